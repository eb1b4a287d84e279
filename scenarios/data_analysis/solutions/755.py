import pandas as pd

df = pd.read_csv("weather_data_1864.csv")
print(f"@mean_TMAX_F[{df['TMAX_F'].mean():.2f}]")
