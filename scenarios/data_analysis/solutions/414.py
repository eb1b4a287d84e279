import pandas as pd

df = pd.read_csv("titanic_train.csv")
age = df.dropna(subset=["Age"]).groupby("Pclass")["Age"].mean()
names = {1: "first", 2: "second", 3: "third"}
print(" ".join(f"@{names[c]}_class_average_age[{age[c]:.2f}]" for c in (1, 2, 3)))
