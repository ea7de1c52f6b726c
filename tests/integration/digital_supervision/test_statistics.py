"""The supervision figures held to what happened, on both databases: a night of look-ins worked
through the real services with an injected clock (on time, late, missed, not seen twice, after
an alarm), and the statistics recounted from the audit log and the alarms they raised."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select

from respons.digital_supervision import lookins, store
from respons.digital_supervision.outcomes import Outcome
from respons.digital_supervision.plans import AgreedTime, Kind, Plan
from respons.statistics import service
from respons.statistics.rules import Period
from respons.store.tables import alarms, audit_log
from tests.factories import full_day

UTC = timezone.utc
RULES = lookins.Rules()


@pytest.fixture
def world(routing_world):
    routing_world.windows(full_day(1, categories=["sensor", "supervision", "technical"]))
    return routing_world


def test_the_nights_figures_are_what_the_audit_log_and_the_alarms_say_happened(world):
    clock, scope, run = world.clock, world.scope, world.journal.run_sync
    clock.now = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
    for index, at in enumerate((time(23, 0), time(23, 30), time(0, 0), time(0, 30))):
        plan = Plan(kind=Kind.CAMERA, times=(AgreedTime(at),), max_seconds=30, consent_by="Brukeren selv",
                    consent_on=date(2026, 12, 1), valid_from=date(2026, 12, 1), event_based=True)
        run(lambda c: store.add(c, municipality_id=world.municipality, recipient_id=world.registry.recipient_ids[index],
                                plan=plan, now=clock(), actor="user:1"))
    run(lambda c: lookins.schedule(c, clock(), RULES))

    def due(local: str) -> dict:
        with world.engine.connect() as conn:
            return next(r for r in store.round_of(conn, municipality_ids=[world.municipality], starts=clock() - timedelta(
                hours=6), ends=clock() + timedelta(hours=12)) if r["planned_local"] and r["planned_local"].endswith(local))

    def look(lookin: dict, at: datetime, outcome: Outcome, seconds: int = 20) -> None:
        clock.now = at
        run(lambda c: lookins.sweep(c, clock(), RULES))
        run(lambda c: lookins.start(c, lookin["id"], actor="user:7", visible_to=scope, now=clock(), rules=RULES))
        clock.now = at + timedelta(seconds=seconds)
        run(lambda c: lookins.finish(c, lookin["id"], outcome, note=None, actor="user:7", visible_to=scope,
                                     now=clock(), rules=RULES))

    first, second, third, fourth = due("23:00"), due("23:30"), due("00:00"), due("00:30")
    look(first, first["due_at"], Outcome.SEEN_WELL)  # on time
    look(second, second["due_at"] + timedelta(minutes=7), Outcome.SEEN_WELL)  # late: after the warning
    look(third, third["due_at"], Outcome.NOT_SEEN)  # not seen → looked for again 15 min later
    with world.engine.connect() as conn:
        [again] = [r for r in store.followed_by(conn, third["id"])]
    look(again, again["due_at"], Outcome.NOT_SEEN)  # not seen again → an alarm
    clock.now = fourth["due_at"] + timedelta(minutes=10)
    run(lambda c: lookins.sweep(c, clock(), RULES))  # nobody looked: missed → an alarm
    alarm_id = world.alarm("bed_exit")
    started = run(lambda c: lookins.after_alarm(c, alarm_id, actor="user:7", visible_to=scope, now=clock(), rules=RULES))
    clock.now += timedelta(seconds=15)
    run(lambda c: lookins.finish(c, started.lookin["id"], Outcome.SEEN_NEEDS_HELP, note=None, actor="user:7",
                                 visible_to=scope, now=clock(), rules=RULES))

    request = service.PeriodRequest.containing(world.municipality, Period.MONTH, date(2026, 12, 4))
    with world.engine.connect() as conn:
        figures = service.supervision(conn, request, now=clock(), minutes_per_visit=30)
        ended = conn.execute(select(audit_log.c.details).where(audit_log.c.action == "look_in_ended")).scalars().all()
        raised = conn.execute(select(alarms.c.payload).where(alarms.c.source == lookins.SOURCE)).scalars().all()
    outcomes = Counter(d["outcome"] for d in ended)
    reasons = Counter(d["reason"] for d in ended)
    assert figures.done == len(ended) == 5
    assert figures.planned == 4 and figures.rechecks == reasons["recheck"] == 1
    assert figures.after_alarms == reasons["event"] == 1
    assert (figures.on_time, figures.late) == (4, 1)
    assert figures.missed == sum(p["supervision"]["reason"] == "missed" for p in raised) == 1
    assert figures.escalations == len(raised) == 3  # not seen twice, missed, needs help
    assert figures.visits_replaced == outcomes["seen_well"] == 2 and figures.hours_saved == 1.0
