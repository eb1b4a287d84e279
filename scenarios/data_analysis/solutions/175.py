import pandas as pd
from scipy import stats

df = pd.read_csv("titanic.csv")
z = stats.zscore(df["Age"].dropna())
print(f"@outliers_count[{int((abs(z) > 3).sum())}]")
