import pandas as pd

df = pd.read_csv("cost_data_with_errors.csv")
print(f"@null_entries_count[{int(df['min_p'].isna().sum())}]")
