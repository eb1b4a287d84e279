import pandas as pd

df = pd.read_csv("2015.csv")
best = df.loc[df["Happiness Score"] == df["Happiness Score"].max(), "Country"]
print(f"@country_with_highest_score[{', '.join(best)}]")
