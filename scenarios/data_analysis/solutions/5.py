import pandas as pd

df = pd.read_csv("test_ave.csv")
df["FamilySize"] = df["SibSp"] + df["Parch"]
print(f"@correlation_coefficient[{df['FamilySize'].corr(df['Fare']):.2f}]")
