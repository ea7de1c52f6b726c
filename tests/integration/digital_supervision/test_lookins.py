"""Look-ins on both databases with an injected clock: scheduled from a plan (across daylight
saving time), late and missed by their own deadlines, started only in their window (a refusal
audited), not seen → looked for again after 15 minutes → an alarm to home care; a sweep run
twice, or by a restarted node, makes nothing twice."""

from __future__ import annotations

import threading
from datetime import date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select

from respons.clock import OSLO
from respons.digital_supervision import lookins, store
from respons.digital_supervision.outcomes import Outcome
from respons.digital_supervision.plans import AgreedTime, Fallback, Kind, Plan
from respons.digital_supervision.rounds import Window
from respons.domain.lifecycle import Outcome as AlarmOutcome, State as AlarmState
from respons.store.db import is_postgres
from respons.store.tables import alarms, audit_log, supervision_lookins
from tests.databases import wait_for_lock_waiter
from tests.factories import full_day

UTC = timezone.utc
RULES = lookins.Rules(window=Window(window=timedelta(minutes=10), late_after=timedelta(minutes=5)),
                      recheck=timedelta(minutes=15))
SCOPE = frozenset()


@pytest.fixture
def world(routing_world):
    return routing_world


def add_plan(world, *times: time, kind: Kind = Kind.CAMERA, valid_from=date(2026, 12, 1), event_based=False,
             fallback: Fallback = Fallback.PHONE) -> int:
    plan = Plan(kind=kind, times=tuple(AgreedTime(t) for t in times), max_seconds=30, consent_by="Brukeren selv",
                consent_on=valid_from, valid_from=valid_from, event_based=event_based, fallback=fallback)
    return world.journal.run_sync(lambda c: store.add(c, municipality_id=world.municipality,
                                                      recipient_id=world.recipient, plan=plan, now=world.clock(),
                                                      actor="user:1"))


def sweep(world) -> int:
    return world.journal.run_sync(lambda c: lookins.sweep(c, world.clock(), RULES))


def rows(world) -> list[dict]:
    with world.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(supervision_lookins).order_by(supervision_lookins.c.id)).mappings()]


def start(world, lookin_id: int, actor: str = "user:7"):
    return world.journal.run_sync(lambda c: lookins.start(c, lookin_id, actor=actor, visible_to=world.scope,
                                                          now=world.clock(), rules=RULES))


def finish(world, lookin_id: int, outcome: Outcome, actor: str = "user:7"):
    return world.journal.run_sync(lambda c: lookins.finish(c, lookin_id, outcome, note=None, actor=actor,
                                                           visible_to=world.scope, now=world.clock(), rules=RULES))


def audited(world, action: str) -> list[dict]:
    with world.engine.connect() as conn:
        return [r.details for r in conn.execute(select(audit_log.c.details).where(audit_log.c.action == action)
                                                .order_by(audit_log.c.seq))]


def test_a_plan_becomes_look_ins_a_day_ahead_once_however_often_the_sweep_runs(world):
    world.clock.now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    add_plan(world, time(23, 0), time(3, 0))
    sweep(world)
    sweep(world)  # again at once, as a second node or a restarted one would
    assert [(r["due_at"], r["planned_local"], r["state"]) for r in rows(world)] == [
        (datetime(2026, 12, 4, 22, 0, tzinfo=UTC), "2026-12-04T23:00", "due"),
        (datetime(2026, 12, 5, 2, 0, tzinfo=UTC), "2026-12-05T03:00", "due"),
    ]
    world.clock.now += timedelta(hours=2)
    sweep(world)
    assert len(rows(world)) == 2, "scheduled again only when less than 23 hours are left"
    world.clock.now += timedelta(hours=22)  # Dec 5, 12:00 UTC
    sweep(world)
    assert [r["planned_local"] for r in rows(world)] == [
        "2026-12-04T23:00", "2026-12-05T03:00", "2026-12-05T23:00", "2026-12-06T03:00"]


def test_look_ins_are_due_by_the_oslo_wall_clock_across_the_spring_change(world):
    world.clock.now = datetime(2027, 3, 27, 0, 0, tzinfo=UTC)
    add_plan(world, time(2, 30), valid_from=date(2027, 3, 1))
    for _ in range(3):
        sweep(world)
        world.clock.now += timedelta(hours=24)
    assert [(r["planned_local"], r["due_at"], r["shifted"]) for r in rows(world)] == [
        ("2027-03-27T02:30", datetime(2027, 3, 27, 1, 30, tzinfo=UTC), False),  # winter time, UTC+1
        # 02:30 does not exist on the 28th: due at 03:30 summer time, which is 01:30 UTC.
        ("2027-03-28T02:30", datetime(2027, 3, 28, 1, 30, tzinfo=UTC), True),
        ("2027-03-29T02:30", datetime(2027, 3, 29, 0, 30, tzinfo=UTC), False),  # summer time, UTC+2
    ]


def test_a_look_in_nobody_starts_is_late_then_missed_and_raises_one_alarm(world):
    world.windows(full_day(1, categories=["supervision"]))
    world.clock.now = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
    add_plan(world, time(23, 0))
    sweep(world)
    [lookin] = rows(world)
    world.clock.now = lookin["due_at"] + timedelta(minutes=4, seconds=59)
    sweep(world)
    assert rows(world)[0]["late"] is False
    world.clock.now = lookin["due_at"] + timedelta(minutes=5)
    sweep(world)
    assert (rows(world)[0]["late"], rows(world)[0]["state"]) == (True, "due")
    world.clock.now = lookin["due_at"] + timedelta(minutes=10)
    sweep(world)
    sweep(world)
    missed = rows(world)[0]  # (the next night's look-in is scheduled by now too)
    assert missed["state"] == "missed" and missed["raised_alarm_id"]
    with world.engine.connect() as conn:
        raised = conn.execute(select(alarms.c.type, alarms.c.state, alarms.c.payload)).all()
    assert len(raised) == 1, "one alarm, however often the sweep runs"
    assert raised[0].type == "supervision_due" and raised[0].state == AlarmState.QUEUED
    assert raised[0].payload["supervision"] == {"lookin_id": lookin["id"], "reason": "missed", "method": "camera",
                                                "due_at": lookin["due_at"].isoformat(), "planned": "2026-12-04T23:00"}


def test_a_look_in_outside_its_window_is_refused_and_the_attempt_is_audited(world):
    world.clock.now = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
    add_plan(world, time(23, 0))
    sweep(world)
    [lookin] = rows(world)
    world.clock.now = lookin["due_at"] - timedelta(minutes=10, seconds=1)
    refused = start(world, lookin["id"])
    assert isinstance(refused, lookins.Refusal) and refused.code == "outside_window"
    assert rows(world)[0]["state"] == "due"
    [attempt] = audited(world, "look_in_refused")
    assert attempt["lookin_id"] == lookin["id"] and attempt["refused"] == "outside_window"
    assert attempt["planned"] == "2026-12-04T23:00"

    world.clock.now = lookin["due_at"] - timedelta(minutes=10)
    started = start(world, lookin["id"])
    assert isinstance(started, lookins.Started) and started.view_until == world.clock.now + timedelta(seconds=30)
    assert start(world, lookin["id"], actor="user:8").code == "taken", "a second operator cannot start it too"
    [opened] = audited(world, "look_in")
    assert (opened["lookin_id"], opened["max_seconds"], opened["reason"]) == (lookin["id"], 30, "planned")


def test_not_seen_is_looked_for_again_after_15_minutes_and_then_home_care_is_sent(world):
    world.windows(full_day(3, categories=["supervision"]))  # routing only: the zone's home care
    nurse = world.responder("hilde")
    world.clock.now = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
    add_plan(world, time(23, 0))
    sweep(world)
    [first] = rows(world)
    world.clock.now = first["due_at"]
    start(world, first["id"])
    world.clock.now += timedelta(seconds=25)
    finish(world, first["id"], Outcome.NOT_SEEN)
    recheck = rows(world)[1]
    assert (recheck["reason"], recheck["previous_id"], recheck["due_at"]) == (
        "recheck", first["id"], world.clock.now + timedelta(minutes=15))
    [ended] = audited(world, "look_in_ended")
    assert (ended["outcome"], ended["seconds"]) == ("not_seen", 25)

    world.clock.now = recheck["due_at"]
    start(world, recheck["id"])
    world.clock.now += timedelta(seconds=20)
    finish(world, recheck["id"], Outcome.NOT_SEEN)
    alarm_id = rows(world)[1]["raised_alarm_id"]
    assert world.state(alarm_id) is AlarmState.OFFERED
    offered = dict(world.events(alarm_id))["offered"]
    assert offered["to"] == [nurse] and offered["zone_id"] == world.zone
    assert len(rows(world)) == 2, "no third look-in: the night patrol goes to the door"


def test_only_the_operator_who_started_a_look_in_records_its_outcome(world):
    world.clock.now = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)
    add_plan(world, time(23, 0))
    sweep(world)
    [lookin] = rows(world)
    start(world, lookin["id"], actor="user:7")
    assert finish(world, lookin["id"], Outcome.SEEN_WELL, actor="user:8").code == "not_yours"
    done = finish(world, lookin["id"], Outcome.SEEN_WELL, actor="user:7")
    assert done["state"] == "done" and done["outcome"] == "seen_well"
    assert finish(world, lookin["id"], Outcome.SEEN_WELL, actor="user:7").code == "finished"


def test_a_phone_look_in_cannot_report_a_camera_and_a_camera_that_fails_falls_back_to_a_call(world):
    world.clock.now = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)
    add_plan(world, time(23, 0))
    add_plan(world, time(23, 5), kind=Kind.PHONE)
    sweep(world)
    camera, phone = rows(world)
    world.clock.now = camera["due_at"]
    start(world, phone["id"])
    assert finish(world, phone["id"], Outcome.CAMERA_UNAVAILABLE).code == "outcome"
    start(world, camera["id"])
    finish(world, camera["id"], Outcome.CAMERA_UNAVAILABLE)
    fallback = rows(world)[2]
    assert (fallback["reason"], fallback["method"], fallback["due_at"], fallback["previous_id"]) == (
        "fallback", "phone", world.clock.now, camera["id"])
    with world.engine.connect() as conn:
        assert conn.execute(select(alarms.c.type)).scalars().all() == ["device_fault"]


def test_an_ended_plans_look_ins_after_its_last_day_are_cancelled(world):
    world.clock.now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    plan_id = add_plan(world, time(23, 0), time(3, 0))
    sweep(world)
    world.journal.run_sync(lambda c: lookins.plan_ended(c, plan_id, datetime(2026, 12, 4, 23, 0, tzinfo=UTC)))
    assert [r["state"] for r in rows(world)] == ["due", "cancelled"]


def test_a_plan_ended_today_for_withdrawn_consent_stops_tonights_look_ins_at_once(world, registry):
    from respons.digital_supervision import service

    world.clock.now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    plan_id = add_plan(world, time(23, 0), time(3, 0))
    sweep(world)
    world.journal.run_sync(lambda c: service.end_plan(c, world.recipient, plan_id, date(2026, 12, 4), allowed=None,
                                                      today=date(2026, 12, 4), now=world.clock(), actor="user:1"))
    assert [r["state"] for r in rows(world)] == ["cancelled", "cancelled"]


def end_today(world, plan_id: int) -> None:
    from respons.digital_supervision import service

    today = world.clock().astimezone(OSLO).date()
    return world.journal.run_sync(lambda c: service.end_plan(c, world.recipient, plan_id, today, allowed=None,
                                                             today=today, now=world.clock(), actor="user:1"))


def test_consent_withdrawn_in_a_look_ins_window_stops_it_and_any_look_in_after_an_alarm_that_day(world, registry):
    world.windows(full_day(1, categories=["sensor", "supervision"]))
    world.clock.now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    plan_id = add_plan(world, time(23, 0), time(23, 40), event_based=True)
    sweep(world)
    # 23:02 Oslo: the 23:00 look-in is in its window, not started. Consent is withdrawn.
    world.clock.now = datetime(2026, 12, 4, 22, 2, tzinfo=UTC)
    end_today(world, plan_id)
    assert [r["state"] for r in rows(world)] == ["cancelled", "cancelled"]
    assert start(world, rows(world)[0]["id"]).code == "cancelled"
    # The same evening's alarm opens no camera either, though the plan's last day is today.
    alarm_id = world.alarm("bed_exit")
    refused = world.journal.run_sync(lambda c: lookins.after_alarm(c, alarm_id, actor="user:7", visible_to=world.scope,
                                                                   now=world.clock(), rules=RULES))
    assert refused.code == "no_event_plan"
    assert len(rows(world)) == 2


def test_consent_withdrawn_just_after_midnight_is_not_followed_by_that_evenings_look_ins(world, registry):
    world.clock.now = datetime(2026, 12, 4, 22, 40, tzinfo=UTC)  # 23:40 Oslo
    plan_id = add_plan(world, time(23, 50))
    sweep(world)  # scheduled until 23:40 tomorrow: tomorrow's 23:50 is not a row yet
    world.clock.now = datetime(2026, 12, 4, 23, 10, tzinfo=UTC)  # 00:10 Oslo, Dec 5: the plan's last day
    end_today(world, plan_id)
    world.clock.now += timedelta(minutes=35)  # less than 23 hours scheduled: the sweep would go on
    sweep(world)
    assert [(r["planned_local"], r["state"]) for r in rows(world) if r["due_at"] > world.clock()] == []


def test_consent_withdrawn_during_a_look_in_ends_its_picture_and_keeps_it_to_be_recorded(world, registry):
    world.clock.now = datetime(2026, 12, 4, 22, 1, tzinfo=UTC)
    plan_id = add_plan(world, time(23, 0))
    sweep(world)
    lookin = rows(world)[0]
    start(world, lookin["id"])
    world.clock.now += timedelta(seconds=5)
    end_today(world, plan_id)
    row = store_lookin(world, lookin["id"])
    assert (row["state"], row["view_until"]) == ("started", world.clock())
    assert lookins.watchable(row, actor="user:7", now=world.clock()).code == "cancelled"
    # Not seen in the few seconds she had: recorded, and no look again under a withdrawn consent.
    assert finish(world, lookin["id"], Outcome.NOT_SEEN)["state"] == "done"
    assert [r["reason"] for r in rows(world) if r["state"] == "due"] == []
    # Ended today again: consent was withdrawn at the first moment, not the second.
    first = row["withdrawn_at"]
    world.clock.now += timedelta(minutes=1)
    end_today(world, plan_id)
    assert store_lookin(world, lookin["id"])["withdrawn_at"] == first


def store_lookin(world, lookin_id: int) -> dict:
    with world.engine.connect() as conn:
        return store.lookin(conn, lookin_id)


def test_a_look_in_started_and_never_recorded_is_missed_and_raises_an_alarm(world):
    world.windows(full_day(1, categories=["supervision"]))
    world.clock.now = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)
    add_plan(world, time(23, 0))
    sweep(world)
    lookin = rows(world)[0]
    start(world, lookin["id"])
    assert start(world, lookin["id"]).lookin["id"] == lookin["id"], "asked again by the same operator: the same"
    world.clock.now += timedelta(seconds=30) + lookins.OUTCOME_GRACE - timedelta(seconds=1)
    sweep(world)
    assert rows(world)[0]["state"] == "started"
    world.clock.now += timedelta(seconds=1)
    sweep(world)
    missed = rows(world)[0]
    assert missed["state"] == "missed" and missed["raised_alarm_id"]
    with world.engine.connect() as conn:
        payload = conn.execute(select(alarms.c.payload).where(alarms.c.id == missed["raised_alarm_id"])).scalar_one()
    assert payload["supervision"]["reason"] == "not_recorded"
    assert finish(world, lookin["id"], Outcome.SEEN_WELL).code == "missed"


def test_a_look_in_after_an_open_alarm_is_allowed_by_the_plan_and_on_the_alarms_timeline(world):
    world.windows(full_day(1, categories=["sensor", "supervision"]))
    world.clock.now = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    alarm_id = world.alarm("bed_exit")
    refused = world.journal.run_sync(lambda c: lookins.after_alarm(c, alarm_id, actor="user:7", visible_to=world.scope,
                                                                   now=world.clock(), rules=RULES))
    assert refused.code == "no_event_plan"
    add_plan(world, time(23, 0), event_based=True)
    started = world.journal.run_sync(lambda c: lookins.after_alarm(c, alarm_id, actor="user:7", visible_to=world.scope,
                                                                   now=world.clock(), rules=RULES))
    lookin = started.lookin
    assert (lookin["reason"], lookin["alarm_id"], lookin["state"]) == ("event", alarm_id, "started")
    world.clock.now += timedelta(seconds=20)
    finish(world, lookin["id"], Outcome.SEEN_WELL)
    looked = [d for k, d in world.events(alarm_id) if k == "look_in"]
    assert [(d["phase"], d.get("outcome")) for d in looked] == [("started", None), ("finished", "seen_well")]
    assert [d["refused"] for d in audited(world, "look_in_refused")] == ["no_event_plan"]


def test_two_operators_asking_to_look_in_after_one_alarm_through_two_nodes_get_one_look_in(world):
    if not is_postgres(world.engine):
        pytest.skip("one writer on SQLite: the second unit reads after the first has committed")
    world.windows(full_day(1, categories=["sensor", "supervision"]))
    world.clock.now = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    add_plan(world, time(23, 0), event_based=True)
    alarm_id = world.alarm("bed_exit")
    results = {}
    with world.engine.connect() as node_a:  # Anne's unit, not committed yet
        a_tx = node_a.begin()
        results["anne"] = lookins.after_alarm(node_a, alarm_id, actor="user:7", visible_to=world.scope,
                                              now=world.clock(), rules=RULES)
        bjorn = threading.Thread(target=lambda: results.setdefault("bjorn", world.journal.run_sync(
            lambda c: lookins.after_alarm(c, alarm_id, actor="user:8", visible_to=world.scope,
                                          now=world.clock() + timedelta(seconds=1), rules=RULES))))
        bjorn.start()
        assert wait_for_lock_waiter(world.engine), "Bjørn's unit should wait for Anne's"
        a_tx.commit()
    bjorn.join(10)
    assert isinstance(results["anne"], lookins.Started)
    assert results["bjorn"] == lookins.Refusal("taken")
    assert [r["reason"] for r in rows(world)] == ["event"]


def test_no_look_in_after_a_closed_alarm_and_the_attempt_is_audited(world):
    world.windows(full_day(1, categories=["sensor", "supervision"]))
    world.clock.now = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    add_plan(world, time(23, 0), event_based=True)
    alarm_id = world.alarm("bed_exit")
    from respons.engine import alarms as alarm_service

    world.journal.run_sync(lambda c: alarm_service.answer(c, alarm_id, now=world.clock(), actor="user:7",
                                                          visible_to=world.scope))
    world.journal.run_sync(lambda c: alarm_service.resolve(c, alarm_id, outcome=AlarmOutcome.FALSE_ALARM, note=None, now=world.clock(),
                                                           actor="user:7", visible_to=world.scope))
    world.journal.run_sync(lambda c: alarm_service.close(c, alarm_id, now=world.clock(), actor="user:7",
                                                         visible_to=world.scope))
    refused = world.journal.run_sync(lambda c: lookins.after_alarm(c, alarm_id, actor="user:7", visible_to=world.scope,
                                                                   now=world.clock(), rules=RULES))
    assert refused.code == "alarm_closed"
    assert [d["refused"] for d in audited(world, "look_in_refused")] == ["alarm_closed"]
    assert rows(world) == [] or all(r["reason"] != "event" for r in rows(world))


def test_a_finished_look_in_is_documented_for_the_patient_record_through_the_outbox(world):
    from respons.store.tables import epj_documents

    world.clock.now = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)
    add_plan(world, time(23, 0))
    add_plan(world, time(23, 5), kind=Kind.SENSOR)
    sweep(world)
    camera, sensor = rows(world)
    for lookin in (camera, sensor):
        start(world, lookin["id"])
    world.clock.now += timedelta(seconds=30)
    finish(world, camera["id"], Outcome.SEEN_WELL)
    finish(world, sensor["id"], Outcome.SEEN_WELL)
    finish(world, camera["id"], Outcome.SEEN_WELL)  # refused (already recorded): no second document
    with world.engine.connect() as conn:
        documents = {r.lookin_id: r for r in conn.execute(select(epj_documents))}
    assert set(documents) == {camera["id"]}, "a sensor look-in has no VKP mode: not documented, not listed"
    assert documents[camera["id"]].state == "waiting" and documents[camera["id"]].alarm_id is None
    encounter = documents[camera["id"]].bundle["entry"][0]["resource"]
    assert encounter["type"][0]["coding"][0]["code"] == "4.26"



def test_a_camera_that_shows_nothing_for_a_person_who_cannot_take_a_call_sends_the_night_patrol(world):
    world.windows(full_day(1, categories=["supervision", "technical"]))
    world.clock.now = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)
    add_plan(world, time(23, 0), fallback=Fallback.VISIT)
    sweep(world)
    [camera] = rows(world)
    start(world, camera["id"])
    finish(world, camera["id"], Outcome.CAMERA_UNAVAILABLE)
    assert len(rows(world)) == 1, "no phone look-in: this person is visited instead"
    with world.engine.connect() as conn:
        raised = sorted((a.type, a.payload["supervision"]["reason"]) for a in conn.execute(select(alarms)))
    assert raised == [("device_fault", "camera_unavailable"), ("supervision_due", "camera_unavailable")]
