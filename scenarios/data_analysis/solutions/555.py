import pandas as pd

df = pd.read_csv("tree.csv")
counts = df["SPP_SYMBOL"].value_counts()
print(f"@unique_species_count[{int((counts >= 5).sum())}]")
