import pandas as pd

df = pd.read_csv("hotel_data.csv")
print(f"@total_hotels[{int((df['star_rating'] == 5).sum())}]")
