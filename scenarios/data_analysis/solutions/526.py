import pandas as pd

df = pd.read_csv("titanic_test.csv").dropna(subset=["Pclass", "Fare"])
print(f"@correlation_coefficient[{df['Pclass'].corr(df['Fare']):.2f}]")
