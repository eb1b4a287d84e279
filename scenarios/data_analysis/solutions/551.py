import pandas as pd

df = pd.read_csv("tree.csv")
print(f"@mean_dbh_cm[{df['DBH_CM'].mean():.2f}]")
