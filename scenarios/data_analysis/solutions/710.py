import pandas as pd

df = pd.read_csv("Current_Logan.csv")
print(f"@mean_wins[{pd.to_numeric(df['JAMES LOGAN'], errors='coerce').mean():.1f}]")
