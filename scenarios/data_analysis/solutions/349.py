import pandas as pd

df = pd.read_csv("test_x.csv")
print(f"@mean_age[{df['Age'].mean():.1f}]")
