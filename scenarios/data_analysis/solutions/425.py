import pandas as pd

df = pd.read_csv("cost_data_with_errors.csv")
print(f"@missing_values_count[{int(df['max_sust_wind'].isna().sum())}]")
