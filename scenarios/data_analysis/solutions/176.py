import pandas as pd

df = pd.read_csv("titanic.csv")
chosen = df[(df["Sex"] == "male") & (df["Survived"] == 1) & (df["Fare"] > df["Fare"].mean())]
print(f"@median_age[{chosen['Age'].dropna().median():.1f}]")
