import pandas as pd

df = pd.read_csv("titanic.csv")
chosen = df[(df["Survived"] == 1) & (df["Pclass"] == 1)]
print(f"@correlation_coefficient[{chosen['Age'].corr(chosen['Fare']):.3f}]")
