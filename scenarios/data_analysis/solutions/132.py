import pandas as pd

df = pd.read_csv("titanic.csv")
z = (df["Fare"] - df["Fare"].mean()) / df["Fare"].std()
print(f"@outlier_count[{int((z.abs() > 3).sum())}]")
