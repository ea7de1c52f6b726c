"""Fixtures shared by the integration tests (the database fixtures are in tests/conftest.py)."""

from __future__ import annotations

import pytest

from respons.store.journal import Journal
from respons.runtime import REACTIONS
from tests.factories import T0, FakeClock, seed_registry


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
