"""The patient record: each handled alarm documented in the municipality's EPJ through VKP
(FHIR R4), and the care plan read back. See docs/epj.md.

``mapping`` says Respons's alarms in VKP's codes, ``document`` builds the Bundle from an
alarm's timeline, ``profiles`` and ``validation`` decide whether it may be sent. All pure.
"""
