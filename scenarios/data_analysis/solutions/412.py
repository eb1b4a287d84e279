import pandas as pd

df = pd.read_csv("titanic_train.csv")
df["FamilySize"] = df["SibSp"] + df["Parch"]
mean = df.groupby("Survived")["FamilySize"].mean()
print(f"@mean_familysize_survived[{mean[1]:.2f}] @mean_familysize_did_not_survive[{mean[0]:.2f}]")
