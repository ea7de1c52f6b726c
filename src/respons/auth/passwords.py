"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106's recommendation)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# What every installation hashes with; only the test suite swaps it (``use_hasher``).
PRODUCTION_HASHER = PasswordHasher()
_hasher = PRODUCTION_HASHER


def use_hasher(hasher: PasswordHasher) -> None:
    """Hash (and check for rehash) with other argon2 parameters from now on, in this process.

    Only the test suite calls this (tests/passwords.py): at RFC 9106's cost each hash or check
    is about a quarter of a second of CPU, and a test run makes thousands of them, most for
    accounts that exist for one test. No setting or environment variable reaches it, so an
    installation cannot be configured into cheap hashes; and a hash made with other
    parameters is upgraded at its next log-in by any process that did not call this
    (``needs_rehash``)."""
    global _hasher
    _hasher = hasher
    _dummy_hash.cache_clear()


@cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so a missing account costs as much time
    as a wrong password (no timing oracle for user names). Made on first use, not at import:
    a hash costs most of a second, and every process that imports this module (each CLI
    command) paid it, whether it ever checked a password or not. A server makes it while it
    starts (``prepare``), so no log-in, not even the first, can tell a missing user by time."""
    return _hasher.hash("respons-no-such-user")


def prepare() -> None:
    _dummy_hash()

MIN_LENGTH = 12


class WeakPassword(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"A password needs at least {MIN_LENGTH} characters.")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
