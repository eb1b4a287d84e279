import pandas as pd

df = pd.read_csv("baro_2015.csv")
baro = df[" BARO"].dropna()
q1, q3 = baro.quantile([0.25, 0.75])
iqr = q3 - q1
print(f"@number_of_outliers[{int(((baro < q1 - 1.5 * iqr) | (baro > q3 + 1.5 * iqr)).sum())}]")
