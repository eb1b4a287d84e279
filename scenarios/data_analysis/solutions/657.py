import pandas as pd

df = pd.read_csv("YAHOO-BTC_USD_D.csv")
c = df["Close"].dropna()
print(f"@mean_close[{c.mean():.2f}] @median_close[{c.median():.2f}] @std_close[{c.std():.2f}]")
