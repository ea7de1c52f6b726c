"""SIA DC-09 (alarm transmission over IP): the pure codec.

Written here rather than taken from a library: the public receivers (e.g. pysiaalarm) answer
before the application has stored the event, which DESIGN.md invariant 1 forbids (ACK only
after commit). Framing, checks and answers are pure functions of bytes, ``now`` and the
account keys, so they are tested and fuzzed without sockets; the listeners (TCP and UDP) are
the I/O edge around them.
"""
