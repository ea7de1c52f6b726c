"""SCAIP (Social Care Alarm Internet Protocol, CLC/TS 50134-9, SS 91100): the receiver.

SCAIP sends an XML ``mrq`` in the body of a SIP MESSAGE and expects the ``mrs`` in the
``200 OK``. Three pure layers — ``sip`` (SIP requests, TCP framing, responses),
``messages`` (``mrq``/``mrs`` XML) and ``codes`` (device types and status codes onto the
alarm taxonomy) — are tested and fuzzed without sockets; ``receiver`` is the I/O edge, with
the same rule as the DC-09 receiver: the answer is sent only after the journal committed.
See docs/scaip.md.
"""
