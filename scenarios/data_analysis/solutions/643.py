import pandas as pd

df = pd.read_csv("random_stock_data.csv")
v = df["Volume"]
print(
    f"@mean_volume[{v.mean():.2f}] @std_volume[{v.std():.2f}] @min_volume[{v.min()}] @max_volume[{v.max()}]"
)
