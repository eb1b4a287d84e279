import pandas as pd

df = pd.read_csv("baseball_data.csv")
print(f"@mean_batting_average[{df['batting_average'].dropna().mean():.3f}]")
