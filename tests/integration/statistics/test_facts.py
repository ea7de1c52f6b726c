"""Key figures from a real timeline on SQLite and PostgreSQL: alarms driven through the
engine (centre, dispatch, direct routing, escalation) with a fake clock, read back as facts,
and every figure checked against a hand count."""

from __future__ import annotations

from datetime import timedelta

import pytest

from respons.domain.lifecycle import Outcome
from respons.statistics.rules import key_figures
from respons.engine import alarms as service
from respons.engine import timeline as alarm_timeline
from respons.engine import missions, routing
from respons.statistics.store import alarm_facts
from tests.checks import assert_database_agrees
from tests.factories import full_day, routing_action

OPERATOR = "user:999"


@pytest.fixture
def world(routing_world):
    """The routing scenario driver (tests/factories.py Scenario) from tests/integration/conftest.py."""
    return routing_world


def answer(world, alarm_id):
    world.journal.run_sync(lambda c: service.answer(c, alarm_id, actor=OPERATOR, visible_to=None, now=world.clock()))


def resolve(world, alarm_id, outcome: Outcome):
    world.journal.run_sync(lambda c: service.resolve(c, alarm_id, actor=OPERATOR, visible_to=None, outcome=outcome,
                                                     note=None, now=world.clock()))


def test_key_figures_of_a_real_timeline_match_a_hand_count(world):
    start = world.clock()
    hilde = world.responder("hilde")
    world.windows(full_day(1))

    cleared = world.alarm()  # answered after 20 s, resolved at the centre
    world.advance(20)
    answer(world, cleared)
    resolve(world, cleared, Outcome.RESOLVED_AT_CENTRE)

    fall = world.alarm("fall")  # answered after 50 s; home care accepts 2 minutes after the dispatch
    received_fall = world.clock()
    world.advance(50)
    answer(world, fall)
    world.journal.run_sync(lambda c: missions.dispatch(c, fall, actor=OPERATOR, visible_to=None, now=world.clock(),
                                                       accept_within=timedelta(minutes=5),
                                                       complete_within=timedelta(minutes=60)))
    world.advance(120)
    world.journal.run_sync(lambda c: missions.accept(c, fall, user_id=hilde, now=world.clock(), visible_to=world.scope))
    resolve(world, fall, Outcome.HOME_CARE_DISPATCHED)
    world.clock.now = received_fall + timedelta(minutes=20)
    world.journal.run_sync(lambda c: missions.report(c, fall, user_id=hilde, action=routing_action("arrived"),
                                                     now=world.clock(), visible_to=world.scope))

    late = world.alarm()  # answered after 90 s: a false alarm
    world.advance(90)
    answer(world, late)
    resolve(world, late, Outcome.FALSE_ALARM)

    world.windows(full_day(2))  # routing with backup from here on
    direct = world.alarm()  # offered to the zone, taken after 30 s
    world.advance(30)
    world.journal.run_sync(lambda c: routing.accept(c, direct, user_id=hilde, now=world.clock(), visible_to=world.scope))

    world.journal.run_sync(lambda c: routing.log_out(c, user_id=hilde, now=world.clock()))
    escalated = world.alarm()  # nobody on duty: to the centre after 4 minutes, answered 30 s later
    world.advance(240)
    world.advance(30)
    answer(world, escalated)
    resolve(world, escalated, Outcome.EMERGENCY_SERVICES)
    world.advance(600)

    with world.engine.connect() as conn:
        facts = alarm_facts(conn, municipality_ids=world.scope, start=start, end=world.clock())
    k = key_figures(facts, now=world.clock(), minutes_per_cleared_alarm=30)
    assert k.received == 5 and k.by_type == {"button_press": 4, "fall": 1}
    assert (k.to_centre, k.answered_within_target, k.pending_answer) == (4, 3, 0), "20, 50 and 30 s in time; 90 s late"
    assert (k.answer_seconds.median, k.answer_seconds.max) == (40, 90)
    assert (k.resolved_by_centre, k.cleared_at_centre, k.clearance_rate) == (4, 2, 0.5)
    assert k.dispatches == {"home_care_dispatched": 1, "emergency_services": 1, "next_of_kin": 0, "technician": 0}
    assert (k.routed_direct, k.escalated) == (2, 1)
    assert (k.accept_seconds.count, k.accept_seconds.median, k.accept_seconds.max) == (2, 75, 120), \
        "120 s from the dispatch; 30 s from the offer"
    assert (k.arrival_seconds.count, k.arrival_seconds.max) == (1, pytest.approx(20 * 60))
    assert k.hours_saved == 1.0
    assert k.frequent_recipients == [(world.recipient, 5)]
    with world.engine.connect() as conn:  # the database's sums say the same, for every breakdown
        assert_database_agrees(conn, world.scope, start, world.clock(), world.clock())


def test_who_answered_and_a_hand_back_through_the_engine(world):
    """Issue 14: a responder's answer in the app is home care's, not the centre's; a
    hand-back keeps home care's acceptance in the facts and in the CSV row."""
    from respons.domain.lifecycle import Event, EventKind
    from respons.statistics import service as export

    start = world.clock()
    hilde = world.responder("hilde")
    world.windows(full_day(2))  # routing with backup: offered to the zone first

    handed_back = world.alarm()  # hilde accepts after 30 s, hands it back after 2 minutes
    received = world.clock()
    world.advance(30)
    world.journal.run_sync(lambda c: routing.accept(c, handed_back, user_id=hilde, now=world.clock(),
                                                    visible_to=world.scope))
    world.advance(90)
    world.journal.run_sync(lambda c: routing.hand_back(c, handed_back, user_id=hilde, now=world.clock(),
                                                       visible_to=world.scope, reason=None))
    world.advance(15)  # the centre answers 15 s after the hand-back
    answer(world, handed_back)
    resolve(world, handed_back, Outcome.EMERGENCY_SERVICES)

    world.windows(full_day(1))
    taken = world.alarm()  # in the centre's queue; a responder's answer in the app (as before issue 14 allowed)
    world.advance(0.4)
    world.journal.run_sync(lambda c: alarm_timeline.append_event(
        c, taken, Event(EventKind.ANSWERED, world.clock(), f"user:{hilde}", {"via": "responder_app"})))
    world.advance(600)

    with world.engine.connect() as conn:
        facts = {f.alarm_id: f for f in alarm_facts(conn, municipality_ids=world.scope, start=start, end=world.clock())}
        assert_database_agrees(conn, world.scope, start, world.clock(), world.clock())
    back, early = facts[handed_back], facts[taken]
    assert (back.answered_by_centre, back.answer_seconds) == (True, 15)
    assert (back.home_care_asked_at, back.mission_accepted_at) == (received, received + timedelta(seconds=30))
    assert (early.answered_by_centre, early.answered_by_home_care, early.answer_seconds) == (False, True, None)
    k = key_figures(facts.values(), now=world.clock())
    assert (k.to_centre, k.answered_within_target, k.answer_seconds.max) == (1, 1, 15), "0.4 s is not the centre's"
    assert k.handled_by_home_care == 1

    csv_rows = export.facts_csv([back, early], "4206").splitlines()
    header = csv_rows[0].split(",")
    row = dict(zip(header, csv_rows[1].split(",")))
    assert row["home_care_asked_at_utc"] == received.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert row["home_care_accepted_at_utc"] == (received + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (row["answered_by_centre"], row["answered_by"]) == ("true", "centre")
    early_row = dict(zip(header, csv_rows[2].split(",")))
    assert (early_row["answered_by_centre"], early_row["answered_by"], early_row["answer_seconds"]) == ("false", "home_care", "")
