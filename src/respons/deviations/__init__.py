"""Deviation reports (avvik): register, propose from the alarm core, handle to a conclusion,
and the year's summary for the collaboration committee.

rules.py (pure: the states and what may change), service.py (units of work; ``react`` proposes
deviations from alarm changes, registered in respons/runtime.py), api.py (JSON), pages.py,
words.py and templates/ (the pages). See docs/deviations.md.
"""
