import pandas as pd

df = pd.read_csv("titanic.csv")
print(f"@mean_fare[{df['Fare'].mean():.2f}] @std_dev_fare[{df['Fare'].std(ddof=0):.2f}]")
