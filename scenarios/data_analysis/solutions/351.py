import pandas as pd

df = pd.read_csv("test_x.csv")
print(f"@correlation_coefficient[{df['Age'].corr(df['Fare']):.2f}]")
