"""The register: municipalities, service recipients, their contacts and devices, zones,
staff and agreements, and how complete it is.

completeness.py (pure: the gaps of a record), service.py (units of work, audited reads),
api.py (JSON), pages.py, problems.py, words.py, templates/ (the administration pages). See
docs/registry.md.
"""
