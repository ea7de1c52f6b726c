"""The cache of valid API tokens (auth/token_cache.py): how long a token is trusted without a
lookup, and what makes every node forget."""

from __future__ import annotations

from respons.auth.accounts import TOKENS_CHANGED, TokenInfo
from respons.auth.token_cache import TokenCache

INFO = TokenInfo(token_id=7, municipality_id=3, purpose="intake")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_valid_token_is_remembered_for_the_ttl_and_no_longer():
    clock = Clock()
    cache = TokenCache(ttl=5.0, monotonic=clock)
    assert cache.get("rsp_abc") is None  # never seen: look it up
    cache.remember("rsp_abc", INFO, cache.generation)
    clock.now += 4.9
    assert cache.get("rsp_abc") == INFO
    clock.now += 0.1
    assert cache.get("rsp_abc") is None  # the TTL bounds an unannounced revocation


def test_only_the_same_token_is_found():
    cache = TokenCache(monotonic=Clock())
    cache.remember("rsp_abc", INFO, cache.generation)
    assert cache.get("rsp_abd") is None
    assert cache.get("rsp_abc ") is None


def test_a_token_revoked_on_any_node_is_forgotten_at_once():
    cache = TokenCache(monotonic=Clock())
    cache.remember("rsp_abc", INFO, cache.generation)
    cache.changes([{"event": "alarm_changed"}])
    assert cache.get("rsp_abc") == INFO
    cache.changes([{"event": "alarm_changed"}, {"event": TOKENS_CHANGED}])
    assert cache.get("rsp_abc") is None


def test_a_resync_of_the_live_bus_forgets_everything():
    # Changes may have been missed while the bus was down, a revocation among them.
    cache = TokenCache(monotonic=Clock())
    cache.remember("rsp_abc", INFO, cache.generation)
    cache.resync()
    assert cache.get("rsp_abc") is None


def test_the_secret_is_not_what_is_kept():
    cache = TokenCache(monotonic=Clock())
    cache.remember("rsp_secret-value", INFO, cache.generation)
    assert all("rsp_secret-value" not in key for key in cache._valid)


def test_a_lookup_that_began_before_the_cache_forgot_does_not_put_the_token_back():
    # The lookup read the token valid; meanwhile another thread heard it was revoked.
    cache = TokenCache(monotonic=Clock())
    began = cache.generation
    cache.changes([{"event": TOKENS_CHANGED}])
    cache.remember("rsp_abc", INFO, began)
    assert cache.get("rsp_abc") is None
    cache.remember("rsp_abc", INFO, cache.generation)  # a lookup begun after: remembered
    assert cache.get("rsp_abc") == INFO
