import pandas as pd

df = pd.read_csv("microsoft.csv")
ret = df["Close"].pct_change() * 100
print(f"@daily_return_mean[{ret.mean():.2f}] @daily_return_std[{ret.std():.2f}]")
