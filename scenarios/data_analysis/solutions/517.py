import pandas as pd

df = pd.read_csv("titanic.csv").dropna(subset=["Pclass", "Fare"])
print(f"@correlation_pclass_fare[{df['Pclass'].corr(df['Fare']):.2f}]")
