"""Statistics: the facts of every alarm, the key figures a municipality and the committee
read, and the reports (PDF, XLSX, CSV) built from the same facts.

rules.py (pure: what counts and how), store.py (the facts and the database's sums; reads the
alarm tables, never writes), service.py (scoped, audited reads), api.py, pages.py, words.py,
templates/, report_model.py, report_pdf.py, report_xlsx.py. See docs/statistics.md.
"""
