"""Economy: price models, invoice runs and their exports, and the staffing planner.

pricing.py, staffing.py, costs.py (pure rules), store.py (what a run counts), invoicing.py,
price_models.py, staffing_plans.py (services), invoice_files.py (exports), pages.py, words.py,
templates/. See docs/economy.md and docs/staffing.md.
"""
