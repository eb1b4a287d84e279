import pandas as pd

df = pd.read_csv("auto-mpg.csv")
print(f"@mean_mpg[{df['mpg'].mean():.2f}] @median_mpg[{df['mpg'].median():.2f}]")
