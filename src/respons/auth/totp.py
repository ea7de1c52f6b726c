"""Time-based one-time passwords (RFC 6238) for two-factor log-in, via pyotp."""

from __future__ import annotations

from datetime import datetime

import pyotp

ISSUER = "Respons"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app reads (usually from a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def code_at(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def verify_code(secret: str, code: str, *, now: datetime) -> bool:
    # One step either side tolerates a phone clock 30 s off, as RFC 6238 §5.2 suggests.
    return pyotp.TOTP(secret).verify(code.strip().replace(" ", ""), for_time=now, valid_window=1)
