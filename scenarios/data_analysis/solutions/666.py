import pandas as pd

df = pd.read_csv("my_test_01.csv")
v = df["MedianHouseValue"]
print(f"@mean_value[{v.mean():.4f}] @std_dev[{v.std():.4f}]")
