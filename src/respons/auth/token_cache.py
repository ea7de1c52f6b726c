"""Valid API tokens, remembered briefly: the intake's hot path without a query per request.

Every ``POST /api/v1/alarms`` carries the sender's token. Looking it up cost a statement
built, a pool checkout and a query on the event loop per request: a fifth of the HTTP
intake's CPU (docs/benchmarks.md, "Issue 21"). A token that was valid a moment ago is
almost always still valid, so a valid token (its municipality and purpose; the purpose is
checked against the route on every request) is remembered for ``TTL``; an unknown or
revoked token is never remembered (it is looked up every time, as before).

When a revocation takes effect:
- at once on every node that hears it: ``accounts.revoke_token`` announces
  ``TOKENS_CHANGED`` on the live bus (LISTEN/NOTIFY between PostgreSQL nodes), and every
  node's cache forgets everything; a resync of the bus (changes may have been missed) too.
  The node that revoked forgets before it answers the revocation (web/api/access_admin.py).
  A lookup that read the token before the revocation and finishes after the cache forgot
  does not put it back (``generation``);
- within ``TTL`` otherwise: a revocation written outside the journal (another process on
  SQLite, or SQL by hand) is not announced, and a remembered token is looked up again at the
  latest ``TTL`` after it was.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Callable

from respons.auth.accounts import TOKENS_CHANGED, TokenInfo

# How long a revocation no node heard can go unnoticed: short against the minutes it takes
# a person to notice a leaked token and revoke it, long against a request every millisecond.
TTL = 5.0

# Only tokens Respons issued and still honours get in, so the count is bounded by the
# installation's tokens; the cap is a backstop, not a policy.
MAX_TOKENS = 10_000


class TokenCache:
    """Token (by its hash) → ``TokenInfo``, each for at most ``ttl`` seconds. Thread-safe;
    an observer of the live bus (engine/live.py)."""

    def __init__(self, ttl: float = TTL, monotonic: Callable[[], float] = time.monotonic):
        self._ttl = ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._valid: dict[str, tuple[TokenInfo, float]] = {}
        self._generation = 0  # one more each time the cache forgets

    def get(self, token: str) -> TokenInfo | None:
        """The token's info if it was found valid less than ``ttl`` ago, else None (look it up)."""
        key = _key(token)
        with self._lock:
            entry = self._valid.get(key)
            if entry is None:
                return None
            info, until = entry
            if self._monotonic() >= until:
                del self._valid[key]
                return None
            return info

    @property
    def generation(self) -> int:
        """Read before looking a token up; give it to ``remember``."""
        return self._generation

    def remember(self, token: str, info: TokenInfo, generation: int) -> None:
        """``token`` was found valid by a lookup begun at ``generation`` (never call this for
        a refused one). Not remembered if the cache forgot since: the lookup may have read
        the token before a revocation it was told of meanwhile (threads: the journal's, the
        relay's)."""
        with self._lock:
            if generation != self._generation:
                return
            if len(self._valid) >= MAX_TOKENS:
                self._valid.clear()
            self._valid[_key(token)] = (info, self._monotonic() + self._ttl)

    def forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._valid.clear()

    # As an observer of the live bus, on every node.
    def changes(self, changes: list[dict]) -> None:
        if any(change.get("event") == TOKENS_CHANGED for change in changes):
            self.forget()

    def resync(self) -> None:
        self.forget()  # changes may have been missed


def _key(token: str) -> str:
    # The hash, not the secret, is what stays in memory (as in the database).
    return hashlib.sha256(token.encode()).hexdigest()
