"""The database's key figures (store/statistics.key_figures_by) are the domain's
(domain/statistics.key_figures over alarm_facts) for every breakdown, on SQLite and
PostgreSQL: on a hand-made set of alarms around the DST changes, month and year ends with
every kind of answer, and on the demo's months of history."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count

import pytest
from sqlalchemy import insert, select

from respons.statistics.rules import (
    OSLO,
    Distribution,
    Period,
    breakdown,
    key_figures,
)
from respons.domain import storms
from respons.statistics.store import counts_by_municipality, key_figures_by, oslo_offsets
from respons.store.tables import alarm_events, alarms, municipalities, recipients
from tests.checks import assert_database_agrees
from tests.factories import seed_registry

UTC = timezone.utc


# --- a hand-made set of alarms -------------------------------------------------------------

# Sunday 29 March 2026: Oslo goes from 02:00 CET to 03:00 CEST (01:00 UTC).
# Sunday 25 October 2026: from 03:00 CEST back to 02:00 CET (01:00 UTC).
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def handmade(engine):
    registry = seed_registry(engine)
    first, second = registry.municipality_ids[:2]
    with engine.connect() as conn:
        owner = dict(conn.execute(select(recipients.c.id, recipients.c.municipality_id)).all())
    of = {m: sorted(r for r, mid in owner.items() if mid == m) for m in (first, second)}
    ids = count(1)
    rows = []

    def alarm(at: datetime, *, municipality=first, recipient=0, answer: float | None = 30, queued=True,
              outcome="resolved_at_centre", category="assistance", type_="button_press", route="centre",
              mission=None, arrived: float | None = None, missing=False, source="test", answered_offer: float | None = None):
        received = at
        answered = None
        if answer is not None and queued:
            answered = received + timedelta(seconds=answer)
        if answered_offer is not None:
            answered = received + timedelta(seconds=answered_offer)
        rows.append(dict(
            id=f"a-{next(ids)}", municipality_id=municipality, recipient_id=of[municipality][recipient], device_id=None,
            type=type_, category=category, priority=2, source=source, occurred_at=received, received_at=received,
            route={"steps": [{"target": route}]}, route_step=0, mission=mission, missing_response=missing,
            state="closed" if answered and outcome else "queued", seq=3, queued_at=received if queued else None,
            answered_at=answered, answered_by="user:1" if answered else None,
            resolved_at=answered if outcome and answered else None, outcome=outcome if answered else None,
            closed_at=answered if outcome and answered else None,
            arrived_at=received + timedelta(seconds=arrived) if arrived is not None else None))

    # Around the spring change: 01:30 CET and 03:30 CEST the same Sunday, an hour apart.
    alarm(datetime(2026, 3, 29, 0, 30, tzinfo=UTC), answer=60)  # exactly the target: in time
    alarm(datetime(2026, 3, 29, 1, 30, tzinfo=UTC), answer=61, outcome="false_alarm")  # late
    # The last minute of March and the first of April (Oslo summer time: UTC+2).
    alarm(datetime(2026, 3, 31, 21, 59, tzinfo=UTC), answer=12, recipient=1, outcome="home_care_dispatched",
          mission={"dispatched_at": "2026-03-31T22:00:00+00:00", "accepted_at": "2026-03-31T22:03:00+00:00"},
          arrived=20 * 60)
    alarm(datetime(2026, 3, 31, 22, 0, tzinfo=UTC), answer=45, recipient=1, outcome="emergency_services")
    # Around the autumn change: 02:30 CEST and 02:30 CET, both at Oslo hour 2.
    alarm(datetime(2026, 10, 25, 0, 30, tzinfo=UTC), answer=20, outcome="technician", category="technical",
          type_="device_silent")
    alarm(datetime(2026, 10, 25, 1, 30, tzinfo=UTC), answer=None, queued=False, route="zone", outcome=None,
          answered_offer=40, arrived=15 * 60)  # routed to home care, taken after 40 s
    # New Year: 23:30 UTC on 31 December is 00:30 on 1 January in Oslo.
    alarm(datetime(2025, 12, 31, 23, 30, tzinfo=UTC), answer=5, recipient=1, municipality=second)
    # Escalated: routed to the zone, nobody took it, answered at the centre.
    alarm(datetime(2026, 6, 10, 8, 0, tzinfo=UTC), answer=70, route="zone", outcome="next_of_kin", missing=True)
    # Still waiting when the figures are taken: one past the target, one within it.
    alarm(NOW - timedelta(minutes=5), answer=None)
    alarm(NOW - timedelta(seconds=30), answer=None)
    # A storm's group alarm only groups its members: not counted.
    alarm(datetime(2026, 6, 10, 9, 0, tzinfo=UTC), source=storms.SOURCE, category="technical", type_="ac_loss")
    with engine.begin() as conn:
        conn.execute(insert(alarms), rows)
    return registry, frozenset({first, second}), of[first][0]


def test_hand_made_alarms_count_in_their_oslo_hour_day_month_and_year(engine, handmade):
    registry, scope, regular = handmade
    first, second = registry.municipality_ids[:2]
    start, end = datetime(2025, 12, 1, tzinfo=OSLO), datetime(2026, 12, 1, tzinfo=OSLO)
    with engine.connect() as conn:
        total = key_figures_by(conn, municipality_ids=scope, start=start, end=end, now=NOW, minutes_per_cleared_alarm=25)[None]
        months = key_figures_by(conn, municipality_ids=scope, start=start, end=end, now=NOW, by=Period.MONTH)
        years = key_figures_by(conn, municipality_ids=scope, start=start, end=end, now=NOW, by=Period.YEAR)
        per_municipality = key_figures_by(conn, municipality_ids=scope, start=start, end=end, now=NOW, by="municipality")
        assert_database_agrees(conn, scope, start, end, NOW)

    assert total.received == 10, "the storm's group alarm is left out"
    # Oslo hours: 01:30 CET, 03:30 CEST; 23:59 and 00:00 CEST; 02:30 CEST and 02:30 CET; 00:30
    # CET; 10:00 CEST; and the two waiting at 12:55 and 12:59 CET.
    assert total.by_hour == {1: 1, 3: 1, 23: 1, 0: 2, 2: 2, 10: 1, 12: 2}
    assert total.by_weekday == {7: 4, 2: 1, 3: 2, 4: 1, 1: 2}, "four on the two Sundays of the changes"
    assert {day.isoformat(): k.received for day, k in months.items()} == {
        "2026-01-01": 1, "2026-03-01": 3, "2026-04-01": 1, "2026-06-01": 1, "2026-10-01": 2, "2026-11-01": 2}
    assert {day.year: k.received for day, k in years.items()} == {2026: 10}
    assert per_municipality[second].received == 1
    # Answers: 60 (in time), 61 (late), 12, 45, 20, 5, 70 (late), and one waiting 5 minutes (late);
    # the one waiting 30 s is pending; the offer taken by home care is not the centre's.
    assert (total.to_centre, total.answered_within_target, total.pending_answer) == (8, 5, 1)
    assert total.answer_seconds == Distribution(7, 45, pytest.approx(64.6), 70, 39.0)
    assert (total.resolved_by_centre, total.cleared_at_centre) == (7, 3)
    assert total.dispatches == {"home_care_dispatched": 1, "emergency_services": 1, "next_of_kin": 1, "technician": 1}
    assert total.handled_by_home_care == 1, "the offer taken in the zone"
    assert (total.routed_direct, total.escalated) == (2, 1)
    assert (total.accept_seconds.count, total.accept_seconds.max) == (2, 180), "3 min after the dispatch; 40 s after the offer"
    assert (total.arrival_seconds.count, total.arrival_seconds.max) == (2, 20 * 60)
    assert (total.missing_responses, total.technical, total.devices_lost) == (1, 1, 1)
    assert total.hours_saved == round(3 * 25 / 60, 1)
    assert total.frequent_recipients[0] == (regular, 7)


def test_oslo_offsets_cut_a_year_at_the_two_changes():
    stretches = oslo_offsets(datetime(2026, 1, 1, tzinfo=OSLO), datetime(2027, 1, 1, tzinfo=OSLO))
    assert stretches == [(datetime(2026, 3, 29, 1, tzinfo=UTC), 3600), (datetime(2026, 10, 25, 1, tzinfo=UTC), 7200),
                         (None, 3600)]
    assert oslo_offsets(datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 7, 2, tzinfo=UTC)) == [(None, 7200)]


def test_a_period_without_alarms_has_an_empty_total_and_no_parts(engine, handmade):
    _, scope, _ = handmade
    start, end = datetime(2024, 1, 1, tzinfo=OSLO), datetime(2024, 2, 1, tzinfo=OSLO)
    with engine.connect() as conn:
        assert key_figures_by(conn, municipality_ids=scope, start=start, end=end, now=NOW) == {
            None: key_figures([], now=NOW)}
        assert key_figures_by(conn, municipality_ids=scope, start=start, end=end, now=NOW, by="zone") == {}


# --- the demo's history ---------------------------------------------------------------------


def test_the_databases_figures_agree_with_the_domains_on_the_demo_history(engine):
    from tests.factories import DEMO_NOW
    from tests.factories import seed_demo_centre as seed

    seed(engine, history_days=60)  # from late September: across the end of summer time
    with engine.connect() as conn:
        scope = frozenset(conn.execute(select(municipalities.c.id)).scalars())
        start, end = DEMO_NOW - timedelta(days=61), DEMO_NOW
        facts = assert_database_agrees(conn, scope, start, end, DEMO_NOW)
        sums = counts_by_municipality(conn, municipality_ids=scope, start=start, end=end, now=DEMO_NOW,
                                      minutes_per_cleared_alarm=30)
    assert len(facts) > 150
    figures = breakdown(facts, lambda f: f.municipality_id, now=DEMO_NOW)
    assert sums.keys() == figures.keys()
    for municipality_id, expected in figures.items():
        got = sums[municipality_id]
        for name in ("received", "to_centre", "answered_within_target", "pending_answer", "resolved_by_centre",
                     "cleared_at_centre", "routed_direct", "escalated", "missing_responses", "hours_saved"):
            assert getattr(got, name) == getattr(expected, name), (municipality_id, name)


# --- who answered: the centre or home care -------------------------------------------------


def test_an_answer_given_in_the_responder_app_is_home_cares_not_the_centres(engine):
    """The alarm row says when an alarm was answered and by which user; only the answered
    event says whether in the app. A responder who took an alarm out of the centre's queue
    (possible before issue 14) is not the centre answering in 0.4 s; a hand-back keeps the
    responder's acceptance; and the database's sums say the same as the domain."""
    registry = seed_registry(engine)
    municipality = registry.municipality_ids[0]
    t0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
    s = lambda n: timedelta(seconds=n)  # noqa: E731
    rows, events = [], []

    def alarm(alarm_id, *, route, queued, answered, answered_by, outcome, timeline):
        rows.append(dict(id=alarm_id, municipality_id=municipality, type="button_press", category="assistance",
                         priority=2, source="test", occurred_at=t0, received_at=t0, route={"steps": [{"target": route}]},
                         route_step=0, state="resolved", seq=len(timeline), queued_at=queued, answered_at=answered,
                         answered_by=answered_by, resolved_at=t0 + s(600), outcome=outcome))
        for seq, (kind, at, actor, data) in enumerate(timeline, start=1):
            events.append(dict(alarm_id=alarm_id, seq=seq, kind=kind, at=at, actor=actor, data=data))

    app = {"via": "responder_app"}
    # The centre answers after 20 s.
    alarm("centre", route="centre", queued=t0, answered=t0 + s(20), answered_by="user:1", outcome="resolved_at_centre",
          timeline=[("received", t0, "device:x", {}), ("queued", t0, "system:routing", {}),
                    ("answered", t0 + s(20), "user:1", {})])
    # A responder took it out of the centre's queue after 0.4 s: neither in time nor late for the centre.
    alarm("taken-early", route="centre", queued=t0, answered=t0 + s(0.4), answered_by="user:7",
          outcome="home_care_dispatched",
          timeline=[("received", t0, "device:x", {}), ("queued", t0, "system:routing", {}),
                    ("answered", t0 + s(0.4), "user:7", app)])
    # ... after it had waited 90 s: the centre was late.
    alarm("taken-late", route="centre", queued=t0, answered=t0 + s(90), answered_by="user:7", outcome="home_care_dispatched",
          timeline=[("received", t0, "device:x", {}), ("queued", t0, "system:routing", {}),
                    ("answered", t0 + s(90), "user:7", app)])
    # Offered to the zone, accepted in the app after 30 s, handed back after 100 s, the centre answered 10 s later.
    alarm("handed-back", route="zone", queued=t0 + s(100), answered=t0 + s(110), answered_by="user:1",
          outcome="emergency_services",
          timeline=[("received", t0, "device:x", {}), ("offered", t0, "system:routing", {"target": "zone"}),
                    ("answered", t0 + s(30), "user:7", app), ("handed_back", t0 + s(100), "user:7", {}),
                    ("answered", t0 + s(110), "user:1", {})])
    # Offered to the zone and taken there after 45 s: home care handled it.
    alarm("direct", route="zone", queued=None, answered=t0 + s(45), answered_by="user:7", outcome="home_care_dispatched",
          timeline=[("received", t0, "device:x", {}), ("offered", t0, "system:routing", {"target": "zone"}),
                    ("answered", t0 + s(45), "user:7", app)])
    with engine.begin() as conn:
        conn.execute(insert(alarms), rows)
        conn.execute(insert(alarm_events), events)

    scope, start, end, now = frozenset({municipality}), t0 - timedelta(days=1), t0 + timedelta(days=1), t0 + s(3600)
    with engine.connect() as conn:
        facts = {f.alarm_id: f for f in assert_database_agrees(conn, scope, start, end, now)}
        k = key_figures_by(conn, municipality_ids=scope, start=start, end=end, now=now)[None]
        sums = counts_by_municipality(conn, municipality_ids=scope, start=start, end=end, now=now,
                                      minutes_per_cleared_alarm=30)[municipality]

    assert {a for a, f in facts.items() if f.answered_by_centre} == {"centre", "handed-back"}
    assert {a for a, f in facts.items() if f.answered_by_home_care} == {"taken-early", "taken-late", "direct"}
    assert k.answer_seconds == Distribution(2, 15, 19, 20, 15), "only the centre's 20 s and 10 s"
    assert (k.to_centre, k.answered_within_target) == (3, 2), "taken after 90 s is late; after 0.4 s is not counted"
    assert (sums.to_centre, sums.answered_within_target) == (3, 2)
    assert k.resolved_by_centre == 2
    assert k.handled_by_home_care == 3
    assert k.dispatches == {"home_care_dispatched": 0, "emergency_services": 1, "next_of_kin": 0, "technician": 0}
    # The hand-back: asked on arrival, accepted after 30 s, though the row now shows the centre's answer.
    assert (facts["handed-back"].home_care_asked_at, facts["handed-back"].mission_accepted_at) == (t0, t0 + s(30))
    assert (k.accept_seconds.count, k.accept_seconds.max) == (2, 45), "30 s before the hand-back; 45 s direct"
