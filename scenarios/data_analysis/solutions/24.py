import pandas as pd

df = pd.read_csv("insurance.csv")
print(f"@mean_age[{df['age'].dropna().mean():.2f}]")
