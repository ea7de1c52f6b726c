"""The node's agreement-rules cache: read once per TTL, dropped when an agreement changes
(on this node or, through the live bus, another), all of it on a resync."""

from __future__ import annotations

from datetime import date

from respons.domain.routing import agreement_changed
from respons.engine.routing import RulesCache

TODAY = date(2026, 12, 3)


class CountingLoader:
    def __init__(self):
        self.calls: list[int] = []

    def __call__(self, conn, municipality_id, today):
        self.calls.append(municipality_id)
        return f"rules of {municipality_id} ({len(self.calls)})"


def test_rules_are_read_once_within_the_ttl():
    load = CountingLoader()
    cache = RulesCache(load=load)
    assert cache.rules(None, 1, TODAY) == cache.rules(None, 1, TODAY) == "rules of 1 (1)"
    assert load.calls == [1]


def test_a_changed_agreement_drops_only_that_municipalitys_copy():
    load = CountingLoader()
    cache = RulesCache(load=load)
    cache.rules(None, 1, TODAY)
    cache.rules(None, 2, TODAY)
    cache.changes([{"event": "queued", "municipality_id": 1}, agreement_changed(2)])
    cache.rules(None, 1, TODAY)
    assert cache.rules(None, 2, TODAY) == "rules of 2 (3)"
    assert load.calls == [1, 2, 2], "municipality 1 kept its copy; 2 was read again"


def test_a_resync_drops_everything_because_changes_may_have_been_missed():
    load = CountingLoader()
    cache = RulesCache(load=load)
    cache.rules(None, 1, TODAY)
    cache.resync()
    cache.rules(None, 1, TODAY)
    assert load.calls == [1, 1]


def test_the_change_reaches_no_screen():
    # Streams pass a change on by municipality (console) or audience (phones): neither is set.
    change = agreement_changed(7)
    assert change["municipality_id"] is None and change["audience"] == [] and change["agreement_of"] == 7


def test_a_zero_ttl_reads_every_time():
    load = CountingLoader()
    cache = RulesCache(ttl_seconds=0, load=load)
    cache.rules(None, 1, TODAY)
    cache.rules(None, 1, TODAY)
    assert load.calls == [1, 1]
