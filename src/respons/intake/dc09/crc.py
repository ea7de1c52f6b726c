"""CRC-16/ARC (polynomial 0x8005, reflected: 0xA001; initial 0), as DC-09 prescribes for the
frame's message part (from the opening quote of the id token to the end of the timestamp).

Computed by ``fastcrc`` (native code): twice per frame (the frame, and our answer), the
pure-Python table loop cost 3 µs a time, a twelfth of a link test's CPU.
"""

from __future__ import annotations

from fastcrc import crc16


def crc16_arc(data: bytes) -> int:
    return crc16.arc(bytes(data))
