"""Fixtures shared by the integration tests (the database fixtures are in tests/conftest.py;
the factories behind these are plain functions in tests/factories.py)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from respons.store.journal import Journal
from respons.runtime import REACTIONS
from tests.factories import T0, FakeClock, Scenario, seed_economy, seed_registry


@pytest.fixture(autouse=True)
def _wide_cli_output(monkeypatch):
    """The CLI prints through Rich, which wraps at 80 columns when there is no terminal. Paths
    under tmp_path appear in that output, and they are longer under xdist (.../popen-gw0/...),
    so where a line wrapped moved into the words a test looks for. At 200 columns a line ends
    where the CLI ends it."""
    from respons.cli import common

    monkeypatch.setattr(common.console, "width", 200)
    monkeypatch.setattr(common.err_console, "width", 200)


@pytest.fixture
def clock():
    return FakeClock(T0)


@pytest.fixture
def registry(engine):
    """Two municipalities with recipients, devices, agreements and intake tokens."""
    return seed_registry(engine)


@pytest.fixture
def journal(engine):
    # With the runtime's reactions, as a node has them (a late answer proposes a deviation).
    j = Journal(engine, window_ms=1, reactions=REACTIONS).start()
    yield j
    j.close()


@pytest.fixture
def economy_world(engine):
    """The invoicing world (tests/factories.py seed_economy): (centre_id, a, b, people)."""
    return seed_economy(engine)


@pytest.fixture
def routing_world(engine, registry):
    """A routing scenario driver at 13:00 in Oslo on Monday 23 November 2026, with its own
    journal. The modules that use it name it ``world``."""
    clock = FakeClock(datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc))
    journal = Journal(engine, window_ms=1, reactions=REACTIONS).start()
    yield Scenario(engine, journal, registry, clock)
    journal.close()
