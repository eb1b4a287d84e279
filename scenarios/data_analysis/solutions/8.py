import pandas as pd

df = pd.read_csv("test_ave.csv")
parts = []
for c in (1, 2, 3):
    fare = df.loc[df["Pclass"] == c, "Fare"]
    parts += [f"@mean_fare_class{c}[{fare.mean():.2f}]", f"@median_fare_class{c}[{fare.median():.2f}]"]
    parts.append(f"@std_dev_fare_class{c}[{fare.std():.2f}]")
print(" ".join(parts))
