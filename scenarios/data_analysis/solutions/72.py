import pandas as pd
from scipy import stats

df = pd.read_csv("microsoft.csv")
p = stats.shapiro(df["Close"]).pvalue
print(f"@normality_test_result[{'Non-normal' if p < 0.05 else 'Normal'}]")
