import pandas as pd
from scipy import stats

df = pd.read_csv("gapminder_cleaned.csv")
p = stats.normaltest(df["gdppercap"]).pvalue
print(f"@distribution_normality[{'normal' if p > 0.05 else 'not normal'}]")
