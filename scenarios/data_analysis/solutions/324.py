import pandas as pd

df = pd.read_csv("0020200722.csv")
print(f"@max_missing_values[{df.isna().sum().idxmax()}]")
