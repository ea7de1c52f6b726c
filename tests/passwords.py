"""Cheap argon2 parameters for the test suite.

At RFC 9106's cost (argon2-cffi's defaults, what Respons runs with) every hash and every check
of a password is about a quarter of a second of CPU; the suite makes thousands, nearly all for
accounts that live for one test. ``tests/conftest.py`` switches the test process to these
parameters, and ``tests/serve.py`` does the same for the servers the tests start. The
production parameters are tested where they matter: a test that asks for the
``production_password_hashing`` fixture gets them back.
"""

from __future__ import annotations

from argon2 import PasswordHasher

from respons.auth import passwords

# argon2's smallest allowed cost; the algorithm and the hash format stay the same.
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def use_cheap_hashing() -> None:
    passwords.use_hasher(CHEAP)


def use_production_hashing() -> None:
    passwords.use_hasher(passwords.PRODUCTION_HASHER)
