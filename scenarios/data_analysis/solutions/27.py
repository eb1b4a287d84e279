import pandas as pd

df = pd.read_csv("insurance.csv")
q1, q3 = df["charges"].quantile([0.25, 0.75])
iqr = q3 - q1
out = df.loc[(df["charges"] < q1 - 1.5 * iqr) | (df["charges"] > q3 + 1.5 * iqr), "charges"]
print(
    f"@total_outliers[{len(out)}] @mean_charges_outliers[{out.mean():.2f}] @median_charges_outliers[{out.median():.2f}]"
)
