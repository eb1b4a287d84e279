import pandas as pd

df = pd.read_csv("microsoft.csv")
print(f"@mean_volume[{df['Volume'].mean():.2f}] @std_dev_volume[{df['Volume'].std():.2f}]")
