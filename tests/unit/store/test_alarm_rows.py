"""The alarm owner's mapping between a projection and its row, without a database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from respons.domain import lifecycle
from respons.domain.lifecycle import Event, EventKind, Outcome
from respons.store.alarms import event_row, projection_columns, projection_from_row

T0 = datetime(2026, 12, 3, 2, 14, tzinfo=timezone.utc)


def _timeline():
    return [Event(EventKind.RECEIVED, T0, "device:TA-1", {"source": "http"}),
            Event(EventKind.QUEUED, T0, "system:routing", {"to": "response_centre"}),
            Event(EventKind.ANSWERED, T0 + timedelta(seconds=31), "user:1"),
            Event(EventKind.RESOLVED, T0 + timedelta(minutes=4), "user:1", {"outcome": Outcome.RESOLVED_AT_CENTRE.value}),
            Event(EventKind.CLOSED, T0 + timedelta(minutes=5), "user:1")]


def test_a_projection_survives_its_row():
    projection = lifecycle.fold(_timeline())
    row = SimpleNamespace(**projection_columns(projection), received_at=projection.received_at)
    assert projection_from_row(row) == projection


def test_every_step_of_a_timeline_maps_both_ways():
    events = _timeline()
    for n in range(1, len(events) + 1):
        projection = lifecycle.fold(events[:n])
        row = SimpleNamespace(**projection_columns(projection), received_at=projection.received_at)
        assert projection_from_row(row) == projection, events[n - 1].kind


def test_an_event_row_keeps_kind_time_actor_and_data():
    event = _timeline()[3]
    assert event_row("a-1", 4, event) == {"alarm_id": "a-1", "seq": 4, "kind": "resolved", "at": event.at,
                                          "actor": "user:1", "data": {"outcome": Outcome.RESOLVED_AT_CENTRE.value}}
