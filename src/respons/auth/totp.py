"""Time-based one-time passwords (RFC 6238) for two-factor log-in, via pyotp."""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

ISSUER = "Respons"

# One step either side tolerates a phone clock 30 s off, as RFC 6238 §5.2 suggests.
VALID_WINDOW = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app reads (usually from a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def code_at(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def matching_step(secret: str, code: str, *, now: datetime, after: int | None = None) -> int | None:
    """The time step (RFC 6238's T, counted in 30 s steps) whose code ``code`` is, or None.

    RFC 6238 §5.2: "the verifier MUST NOT accept the second attempt of the OTP after the
    successful validation has been issued for the first OTP". So the caller passes the last
    step it accepted as ``after``, and only a *later* step counts: the same code cannot be
    used twice, nor an older one that is still inside the tolerance window.
    """
    otp = pyotp.TOTP(secret)
    # Any Unicode space an app puts in when the code is copied ("123 456" with a no-break
    # space); then only ASCII digits are a code: compare_digest refuses non-ASCII text with a
    # TypeError, which would answer a right password with a 500 instead of "wrong code".
    code = "".join(code.split())
    if not (code.isascii() and code.isdigit()):
        return None
    current = otp.timecode(now)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if after is not None and step <= after:
            continue
        # Constant-time comparison, as pyotp's own verify does.
        if hmac.compare_digest(code, otp.generate_otp(step)):
            return step
    return None


def verify_code(secret: str, code: str, *, now: datetime) -> bool:
    """Whether the code is valid now, ignoring replay (see ``matching_step`` for log-in)."""
    return matching_step(secret, code, now=now) is not None
