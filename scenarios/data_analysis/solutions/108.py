import pandas as pd

df = pd.read_csv("test_Y3wMUE5_7gLdaTN.csv")
total = df["ApplicantIncome"] + df["CoapplicantIncome"]
print(f"@mean_total_income[{total.mean():.2f}] @std_dev_total_income[{total.std():.2f}]")
