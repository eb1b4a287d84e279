import pandas as pd

df = pd.read_csv("percent-bachelors-degrees-women-usa.csv")
print(f"@mean_value[{df['Engineering'].mean():.2f}]")
