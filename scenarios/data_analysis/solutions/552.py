import pandas as pd

df = pd.read_csv("tree.csv")
r = df["HT_M"].corr(df["BA_M2"])
print(f"@correlation_coefficient[{r:.3f}] @relationship_type[{'linear' if abs(r) >= 0.5 else 'nonlinear'}]")
