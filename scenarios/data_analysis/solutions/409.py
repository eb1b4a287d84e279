import pandas as pd

df = pd.read_csv("titanic_train.csv")
print(f"@missing_values[{int(df['Cabin'].isna().sum())}]")
