import pandas as pd

df = pd.read_csv("abalone.csv")
r = df["Diameter"].corr(df["Rings"])
print(f"@correlation_coefficient[{r:.2f}] @relationship_status[{'correlate' if abs(r) >= 0.1 else 'none'}]")
