import pandas as pd

df = pd.read_csv("YAHOO-BTC_USD_D.csv")
print(f"@correlation_high_low[{df['High'].corr(df['Low']):.2f}]")
