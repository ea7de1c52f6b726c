"""The AES key format SIA DC-09 defines (32, 48 or 64 hex digits): pure, so the registry can
check a key an administrator types without depending on the receiver (intake/dc09)."""

from __future__ import annotations


class BadKey(ValueError):
    pass


def parse_key(text: str) -> bytes:
    """``"000102…"`` (32/48/64 hex digits) → the AES key; ``BadKey`` with a reason otherwise."""
    cleaned = text.strip().replace(" ", "")
    if len(cleaned) not in (32, 48, 64):
        raise BadKey("DC-09-nøkkelen må være 32, 48 eller 64 heksadesimale tegn (AES-128, -192 eller -256)")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise BadKey("DC-09-nøkkelen kan bare inneholde heksadesimale tegn (0-9, A-F)") from None
