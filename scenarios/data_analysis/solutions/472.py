import pandas as pd

df = pd.read_csv("oecd_education_spending.csv")
print(f"@mean_value[{df['Value'].dropna().mean():.2f}]")
