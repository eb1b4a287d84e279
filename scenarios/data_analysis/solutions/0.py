import pandas as pd

df = pd.read_csv("test_ave.csv")
print(f"@mean_fare[{df['Fare'].mean():.2f}]")
