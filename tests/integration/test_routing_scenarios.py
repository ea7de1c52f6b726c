"""Routing and escalation scenarios with a fake clock, on SQLite and PostgreSQL.

Each scenario sets the municipality's agreement windows, logs responders in to zones, sends
an alarm through ``receive`` and moves the clock, firing every timer that falls due exactly
as the timer worker would (claim, then fire with the fence). Minutes of escalation run in
milliseconds.
"""

from __future__ import annotations

import threading
from datetime import datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select

from respons.domain.alarm_types import alarm_type
from respons.domain.lifecycle import IllegalTransition, State
from respons.engine import receiving
from respons.engine import routing, timers
from respons.runtime import REACTIONS, TIMER_HANDLERS
from respons.store.journal import Journal
from respons.store.tables import alarms
from tests.factories import CARE, LEASE, dispatched, full_day, routing_action


@pytest.fixture
def world(routing_world):
    """The scenario driver (tests/factories.py Scenario) from tests/integration/conftest.py."""
    return routing_world


def test_full_response_puts_the_alarm_in_the_centres_queue(world):
    world.windows(full_day(1))
    world.responder("hilde")
    alarm_id = world.alarm()
    assert world.state(alarm_id) is State.QUEUED
    assert world.kinds(alarm_id) == ["received", "queued"]


def test_routing_with_backup_offers_the_zone_resends_and_escalates_after_four_minutes(world):
    world.windows(full_day(2))
    hilde, per = world.responder("hilde"), world.responder("per")
    alarm_id = world.alarm()
    assert world.state(alarm_id) is State.OFFERED
    offered = world.events(alarm_id)[1][1]
    assert offered["to"] == sorted([hilde, per]) and offered["zone_id"] == world.zone and offered["round"] == 1

    world.advance(239)
    assert world.state(alarm_id) is State.OFFERED
    rounds = [d["round"] for k, d in world.events(alarm_id) if k == "offered"]
    assert rounds == [1, 2, 3, 4], "offered again every 60 s"

    world.advance(1)
    assert world.state(alarm_id) is State.QUEUED
    assert world.kinds(alarm_id)[-1] == "escalated"
    world.advance(600)
    assert world.kinds(alarm_id).count("offered") == 4, "nothing is offered after escalation"
    assert "answer_time_exceeded" in world.kinds(alarm_id), "the centre's answer clock started at the escalation"


def test_nobody_logged_in_means_escalation_to_the_centre_after_the_backup_time(world):
    world.windows(full_day(2))
    alarm_id = world.alarm()
    assert world.events(alarm_id)[1][1]["to"] == []
    world.advance(240)
    assert world.state(alarm_id) is State.QUEUED and world.kinds(alarm_id)[-1] == "escalated"


def test_routing_without_backup_goes_round_until_someone_accepts(world):
    world.windows(full_day(3), resend_seconds=120)
    hilde = world.responder("hilde")
    alarm_id = world.alarm()
    world.advance(30 * 60)
    assert world.state(alarm_id) is State.OFFERED
    assert world.kinds(alarm_id).count("offered") == 16  # at 0, 2, 4, … 30 minutes
    world.journal.run_sync(lambda c: routing.accept(c, alarm_id, user_id=hilde, now=world.clock(), visible_to=world.scope))
    world.advance(600)
    assert world.state(alarm_id) is State.ANSWERED
    assert world.kinds(alarm_id).count("offered") == 16, "accepting stops the resending"


def test_hybrid_agreement_backup_by_day_full_response_at_night_across_the_spring_dst_change(world):
    world.windows(
        {"service_model": 2, "starts": time(7), "ends": time(23), "categories": CARE, "escalation_minutes": 4},
        {"service_model": 1, "starts": time(23), "ends": time(7), "categories": CARE, "escalation_minutes": None},
    )
    world.responder("hilde")
    world.clock.now = datetime(2026, 3, 28, 5, 30, tzinfo=timezone.utc)  # 06:30 CET: night
    assert world.state(world.alarm()) is State.QUEUED
    world.clock.now = datetime(2026, 3, 29, 5, 30, tzinfo=timezone.utc)  # 07:30 CEST: day, the first morning of summer time
    day = world.alarm()
    assert world.state(day) is State.OFFERED
    world.clock.now = datetime(2026, 10, 25, 5, 30, tzinfo=timezone.utc)  # 06:30 CET after the autumn change: night
    assert world.state(world.alarm()) is State.QUEUED


def test_two_responders_accept_at_once_and_exactly_one_gets_the_alarm(world):
    world.windows(full_day(2))
    responders = [world.responder("hilde"), world.responder("per")]
    alarm_id = world.alarm()
    outcomes: list[object] = []
    barrier = threading.Barrier(2)

    def accept(user_id):
        barrier.wait()
        try:
            world.journal.run_sync(lambda c: routing.accept(c, alarm_id, user_id=user_id, now=world.clock(),
                                                            visible_to=world.scope))
            outcomes.append(user_id)
        except IllegalTransition as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=accept, args=(r,)) for r in responders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    winners = [o for o in outcomes if isinstance(o, int)]
    assert len(winners) == 1 and len(outcomes) == 2
    with world.engine.connect() as conn:
        assert conn.execute(select(alarms.c.answered_by).where(alarms.c.id == alarm_id)).scalar_one() == f"user:{winners[0]}"
    world.advance(300)
    assert world.state(alarm_id) is State.ANSWERED, "the escalation timer was cancelled by the accept"


def test_a_declined_offer_stands_for_the_others(world):
    world.windows(full_day(2))
    hilde, per = world.responder("hilde"), world.responder("per")
    alarm_id = world.alarm()
    world.journal.run_sync(lambda c: routing.decline(c, alarm_id, user_id=hilde, now=world.clock(), visible_to=world.scope,
                                                     reason="opptatt hos annen bruker"))
    assert world.state(alarm_id) is State.OFFERED
    world.journal.run_sync(lambda c: routing.accept(c, alarm_id, user_id=per, now=world.clock(), visible_to=world.scope))
    assert world.state(alarm_id) is State.ANSWERED


def test_a_responder_hands_the_alarm_back_to_the_centre_with_its_history(world):
    world.windows(full_day(2))
    hilde, per = world.responder("hilde"), world.responder("per")
    alarm_id = world.alarm()
    world.journal.run_sync(lambda c: routing.accept(c, alarm_id, user_id=hilde, now=world.clock(), visible_to=world.scope))
    with pytest.raises(IllegalTransition, match="Only the responder who has the alarm"):
        world.journal.run_sync(lambda c: routing.hand_back(c, alarm_id, user_id=per, now=world.clock(), visible_to=world.scope,
                                                           reason=None))
    world.advance(30)
    world.journal.run_sync(lambda c: routing.hand_back(c, alarm_id, user_id=hilde, now=world.clock(), visible_to=world.scope,
                                                       reason="Trenger ambulanse"))
    assert world.state(alarm_id) is State.QUEUED
    assert world.kinds(alarm_id) == ["received", "offered", "answered", "handed_back"]
    world.advance(61)
    assert world.kinds(alarm_id)[-1] == "answer_time_exceeded", "the centre's answer clock starts at the hand-back"


def test_technical_alarms_go_to_the_municipalitys_technicians(world):
    world.windows(full_day(1), full_day(2, ["technical"], escalation_minutes=30))
    world.responder("hilde")
    tech = world.responder("tore", technician=True)
    alarm_id = world.alarm("battery_low")
    offered = world.events(alarm_id)[1][1]
    assert world.state(alarm_id) is State.OFFERED and offered["target"] == "technicians" and offered["to"] == [tech]
    world.journal.run_sync(lambda c: routing.accept(c, alarm_id, user_id=tech, now=world.clock(), visible_to=world.scope))
    assert world.state(alarm_id) is State.ANSWERED


def test_editing_the_agreement_does_not_change_a_running_alarm(world):
    world.windows(full_day(2))
    alarm_id = world.alarm()
    world.windows(full_day(2, escalation_minutes=10))
    world.advance(240)
    assert world.state(alarm_id) is State.QUEUED, "the 4-minute chain frozen at arrival still applies"
    later = world.alarm()
    world.advance(240)
    assert world.state(later) is State.OFFERED


def test_a_restart_in_the_middle_of_the_chain_resumes_it_without_losing_or_repeating_a_step(world, engine):
    world.windows(full_day(2))
    world.responder("hilde")
    alarm_id = world.alarm()
    world.advance(60)  # round 2 sent
    # Node 1 claims the next resend and dies before firing it.
    world.clock.advance(seconds=60)
    dead = world.journal.run_sync(lambda c: timers.claim_due(c, now=world.clock(), node="dead", lease=LEASE))
    assert [c.kind for c in dead] == ["route_resend"]
    world.journal.close()

    # The restarted node: a new journal on the same database. The claim's lease runs out and
    # the resend is taken over; the dead node's claim can never fire afterwards.
    world.journal = Journal(engine, window_ms=1, reactions=REACTIONS).start()
    world.advance(LEASE.total_seconds() + 1)
    assert not world.journal.run_sync(lambda c: timers.fire(c, dead[0], now=world.clock(), handlers=TIMER_HANDLERS))
    world.advance(240 - 120 - LEASE.total_seconds() - 1)
    kinds = world.kinds(alarm_id)
    assert kinds.count("offered") == 4 and kinds.count("escalated") == 1
    assert [d["round"] for k, d in world.events(alarm_id) if k == "offered"] == [1, 2, 3, 4]
    world.advance(600)
    assert world.kinds(alarm_id).count("escalated") == 1


# --- missing response: home care dispatched by the centre ----------------------------------


def missing(world, alarm_id) -> list[str]:
    return [d["missing"] for k, d in world.events(alarm_id) if k == "missing_response"]


def flagged(world, alarm_id) -> bool:
    with world.engine.connect() as conn:
        return conn.execute(select(alarms.c.missing_response).where(alarms.c.id == alarm_id)).scalar_one()


def test_a_dispatched_mission_nobody_accepts_is_flagged_to_the_centre(world):
    world.responder("hilde")
    alarm_id = dispatched(world)
    world.advance(299)
    assert missing(world, alarm_id) == [] and not flagged(world, alarm_id)
    world.advance(1)
    assert missing(world, alarm_id) == ["not_accepted"] and flagged(world, alarm_id)


def test_an_accepted_mission_not_reported_done_in_time_is_flagged(world):
    from respons.engine import missions

    hilde, per = world.responder("hilde"), world.responder("per")
    alarm_id = dispatched(world)
    world.advance(120)
    world.journal.run_sync(lambda c: missions.accept(c, alarm_id, user_id=hilde, now=world.clock(), visible_to=world.scope))
    with pytest.raises(IllegalTransition, match="already been accepted"):
        world.journal.run_sync(lambda c: missions.accept(c, alarm_id, user_id=per, now=world.clock(), visible_to=world.scope))
    world.journal.run_sync(lambda c: missions.report(c, alarm_id, user_id=hilde, action=routing_action("en_route"),
                                                     now=world.clock(), visible_to=world.scope))
    world.advance(60 * 60)
    assert missing(world, alarm_id) == ["not_completed"]


def test_a_mission_accepted_and_done_in_time_raises_nothing(world):
    from respons.engine import missions

    hilde = world.responder("hilde")
    alarm_id = dispatched(world)
    world.advance(60)
    world.journal.run_sync(lambda c: missions.accept(c, alarm_id, user_id=hilde, now=world.clock(), visible_to=world.scope))
    world.advance(20 * 60)
    world.journal.run_sync(lambda c: missions.report(c, alarm_id, user_id=hilde, action=routing_action("done"),
                                                     now=world.clock(), visible_to=world.scope, text="Hjalp bruker opp"))
    world.advance(2 * 60 * 60)
    assert missing(world, alarm_id) == [] and not flagged(world, alarm_id)
    assert world.kinds(alarm_id)[-3:] == ["action", "mission_accepted", "action"]


def test_a_window_for_certain_device_kinds_routes_only_their_alarms(world):
    from respons.store.tables import devices

    world.windows({**full_day(2), "device_kinds": ["safety_alarm"]}, full_day(1))
    world.responder("hilde")
    with world.engine.connect() as conn:
        device = conn.execute(select(devices.c.id).where(devices.c.recipient_id == world.recipient)).scalar_one()
    from_device = receiving.NewAlarm(world.municipality, world.recipient, device, alarm_type("button_press"), "http", "test",
                                   world.clock())
    routed = world.journal.run_sync(lambda c: receiving.receive(c, from_device, now=world.clock(),
                                                              answer_deadline=timedelta(seconds=60))).alarm_id
    assert world.state(routed) is State.OFFERED
    assert world.state(world.alarm()) is State.QUEUED, "without that device kind: the next window, full response"
