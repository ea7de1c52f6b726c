"""Reports for municipalities and committees: one period's key figures with a month-by-month
breakdown and short explanations, as XLSX (for spreadsheets and Power BI) and PDF (to send and
file). Built from the same facts as the dashboard (``engine/statistics.py``)."""
