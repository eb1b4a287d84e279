import pandas as pd

df = pd.read_csv("insurance.csv")
print(f"@bmi_distribution[{'normal' if abs(df['bmi'].skew()) < 0.5 else 'not_normal'}]")
