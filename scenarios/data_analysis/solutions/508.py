import pandas as pd

df = pd.read_csv("hotel_data.csv")
print(f"@correlation_coefficient[{df['review_count'].corr(df['bubble_score']):.3f}]")
