import pandas as pd

df = pd.read_csv("Credit.csv")
print(f"@mean_income[{df['Income'].mean():.2f}] @std_dev_income[{df['Income'].std():.2f}]")
