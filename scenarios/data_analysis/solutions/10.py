import pandas as pd
from scipy import stats

df = pd.read_csv("GODREJIND.csv")
p = stats.shapiro(df["Total Traded Quantity"]).pvalue
print(f"@is_normal[{'yes' if p > 0.05 else 'no'}]")
