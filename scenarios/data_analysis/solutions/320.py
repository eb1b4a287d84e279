import pandas as pd

df = pd.read_csv("0020200722.csv")
print(f"@mean_eventmsgtype[{df['EVENTMSGTYPE'].mean():.2f}]")
