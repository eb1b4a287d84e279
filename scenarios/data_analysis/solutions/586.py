import pandas as pd

df = pd.read_csv("20170413_000000_group_statistics.csv")
print(f"@total_abandoned_calls[{int(df['num. calls abandoned '].dropna().sum())}]")
