"""Reading clients' English: dates, days, numbers, and screening for symptoms."""
