"""Look-ins: scheduled from the plans, started by one operator in their window, finished with an
outcome that may look again or raise an alarm; late and missed ones found by a sweep
(docs/supervision.md). Each function is a unit of work for the journal.

A look-in is a row with its own deadline (``check_at``), as a device's lost-contact deadline
is (engine/supervision.py): the sweep marks it late once, and missed once its window has
closed, by conditional UPDATEs, so two nodes sweeping together, or a restart in the middle of
a round, neither lose a look-in nor repeat one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from respons.auth import audit
from respons.clock import OSLO, Clock
from respons.digital_supervision import store
from respons.digital_supervision.outcomes import LookAgain, Outcome, RaiseAlarm, after
from respons.digital_supervision.plans import DEFAULT_RECHECK, Fallback, Kind, due_between
from respons.digital_supervision.rounds import Reason, State, Window, closes_at, in_window, late_at
from respons.domain.alarm_types import alarm_type
from respons.domain.lifecycle import Event, EventKind, State as AlarmState
from respons.engine import receiving
from respons.engine.timeline import append_event
from respons.engine.periodic import PeriodicWorker
from respons.engine.routing import RulesCache
from respons.store.journal import Journal, announce

SOURCE = "supervision_round"
ACTOR = "system:round"
PURPOSE = "supervision"
# Look-ins exist as rows this far ahead, so the round list shows the whole coming shift; a
# plan is scheduled again when less than a day minus an hour is left.
HORIZON = timedelta(hours=24)
RESCHEDULE_BEFORE = timedelta(hours=23)
SWEEP_LIMIT = 200
LOOKIN_CHANGED = "lookin"
WITHDRAWN = "withdrawn"  # a look-in's picture ended by the consent's withdrawal (camera.ended_from_outside)
# A look-in started and never recorded (the browser crashed, the shift ended) is not left open:
# this long after its picture closed, the sweep marks it missed and raises an alarm.
OUTCOME_GRACE = timedelta(minutes=10)


@dataclass(frozen=True)
class Rules:
    """What a node's settings decide about rounds (settings.py, ``supervision_*``)."""

    window: Window = Window()
    recheck: timedelta = DEFAULT_RECHECK
    answer_deadline: timedelta = timedelta(seconds=60)
    rules_cache: RulesCache | None = field(default=None, compare=False)


def changed(municipality_id: int, lookin_id: int, what: str, by: str = ACTOR) -> dict[str, Any]:
    """A look-in changed, for the round lists (``round``: whose round; ``by``: who changed it,
    so their own page waits for its own answer). No municipality in scope and no audience: the
    alarm streams of the console and the phones never pass it."""
    return {"event": LOOKIN_CHANGED, "what": what, "lookin_id": lookin_id, "by": by, "round": municipality_id,
            "municipality_id": None, "audience": []}


# --- scheduling ----------------------------------------------------------------------------------

def schedule(conn: Connection, now: datetime, rules: Rules, *, limit: int = SWEEP_LIMIT) -> int:
    """Turn plans' agreed times into look-in rows up to a day ahead; returns plans scheduled.

    A new plan starts from now (a look-in whose window is still open is included); later
    rounds continue where the last one stopped, so each span is looked at once."""
    until = now + HORIZON
    plans = store.plans_to_schedule(conn, before=now + RESCHEDULE_BEFORE, today=now.astimezone(OSLO).date(),
                                    limit=limit)
    for row in plans:
        start = row["scheduled_until"] or now - rules.window.window
        plan = store.plan_of(row)
        store.add_lookins(conn, [
            new_lookin(row, Reason.PLANNED, plan.kind, due.at, now, rules.window,
                 planned_local=due.planned.isoformat(timespec="minutes"), shifted=due.shifted)
            for due in due_between(plan, start, until)])
        store.scheduled(conn, row["id"], until)
    return len(plans)


def new_lookin(plan_row: dict[str, Any], reason: Reason, method: Kind, due_at: datetime, now: datetime, window: Window,
               **extra) -> dict[str, Any]:
    """A look-in row of the plan (``id``, ``municipality_id``, ``recipient_id``), due at ``due_at``."""
    return {"uid": str(uuid.uuid4()), "plan_id": plan_row["id"], "municipality_id": plan_row["municipality_id"],
            "recipient_id": plan_row["recipient_id"], "reason": reason.value, "method": method.value,
            "due_at": due_at, "closes_at": closes_at(due_at, window), "check_at": late_at(due_at, window),
            "state": State.DUE.value, "late": False, "shifted": False, "planned_local": None, "previous_id": None,
            "alarm_id": None, "created_at": now, **extra}


def plan_ended(conn: Connection, plan_id: int, from_moment: datetime) -> int:
    """The plan ends: its look-ins not yet started from ``from_moment`` on are cancelled, and
    the round lists hear of it."""
    return _cancelled(conn, store.cancel_from(conn, plan_id, from_moment))


def consent_withdrawn(conn: Connection, plan_id: int, now: datetime) -> None:
    """The plan ends now: no look-in of it starts from here on (also one whose window is open
    this minute), and a picture being watched ends: announced as ``withdrawn``, which the
    operator's browser and the node that shows the picture (``camera.Cameras.changes``) hear
    after the commit, on any node."""
    _cancelled(conn, store.cancel_open(conn, plan_id, now))
    for row in store.end_views(conn, plan_id, now):
        announce(conn, changed(row["municipality_id"], row["id"], WITHDRAWN))


def _cancelled(conn: Connection, rows: list[dict[str, Any]]) -> int:
    for row in rows:
        announce(conn, changed(row["municipality_id"], row["id"], "cancelled"))
    return len(rows)


# --- the sweep: late and missed -------------------------------------------------------------------

def sweep(conn: Connection, now: datetime, rules: Rules, *, limit: int = SWEEP_LIMIT) -> int:
    """Schedule, mark late look-ins, and raise an alarm for each missed one; returns the work
    done. (The worker runs the three steps as units of their own: ``SWEEP_STEPS``.)"""
    return sum(step(conn, now, rules, limit=limit) for step in SWEEP_STEPS)


def mark_late(conn: Connection, now: datetime, rules: Rules, *, limit: int = SWEEP_LIMIT) -> int:
    rows = store.now_late(conn, now=now, limit=limit)
    for row in rows:
        announce(conn, changed(row["municipality_id"], row["id"], "late"))
    return len(rows)


def raise_missed(conn: Connection, now: datetime, rules: Rules, *, limit: int = SWEEP_LIMIT) -> int:
    """Look-ins nobody started while their window was open, and look-ins started and never
    recorded: the person was not (known to be) seen when agreed, and that must reach someone
    as an alarm, never pass in silence."""
    missed = store.now_missed(conn, now=now, limit=limit)
    for row in missed:
        _raise(conn, row, RaiseAlarm("supervision_due", "missed" if row["started_by"] is None else "not_recorded"),
               now, rules, actor=ACTOR)
        announce(conn, changed(row["municipality_id"], row["id"], "missed"))
    return len(missed)


SWEEP_STEPS = (schedule, mark_late, raise_missed)


# --- an operator's look-in -------------------------------------------------------------------------

class LookinNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Refusal:
    """Why a look-in cannot start or finish: a code the pages put into words."""

    code: str  # taken, finished, missed, cancelled, outside_window, alarm_closed, not_yours, outcome
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Started:
    lookin: dict[str, Any]
    view_until: datetime


def visible(conn: Connection, lookin_id: int, visible_to: frozenset[int]) -> dict[str, Any]:
    """The look-in, if it is of a municipality the caller works for (else LookinNotFound)."""
    row = store.lookin(conn, lookin_id)
    if row is None or row["municipality_id"] not in visible_to:
        raise LookinNotFound(lookin_id)
    return row


def start(conn: Connection, lookin_id: int, *, actor: str, visible_to: frozenset[int], now: datetime,
          rules: Rules, open_alarm: bool = False) -> Started | Refusal:
    """Start a look-in for ``actor``: only in its window (planned, recheck, fallback), or while
    the alarm it follows is open (event; ``open_alarm`` is the caller's check). A refusal
    outside the window is audited and committed: an attempt to look outside the agreed time
    is itself something the municipality must be able to see."""
    row = visible(conn, lookin_id, visible_to)
    if row["state"] == State.STARTED and row["started_by"] == actor:
        return Started(row, row["view_until"])  # asked again (a second key press, a reload): the same look-in
    refusal = _start_refusal(row, now, rules, open_alarm)
    view_until = now + timedelta(seconds=row["max_seconds"])
    if refusal is None and not store.start(conn, lookin_id, actor=actor, now=now, view_until=view_until,
                                           check_at=view_until + OUTCOME_GRACE):
        refusal = _start_refusal(store.lookin(conn, lookin_id), now, rules, open_alarm) or Refusal("taken")
    if refusal is not None:
        if refusal.code in ("outside_window", "alarm_closed"):
            audit.append(conn, now=now, actor=actor, action=audit.LOOK_IN_REFUSED, municipality_id=row["municipality_id"],
                         recipient_id=row["recipient_id"], alarm_id=row["alarm_id"], purpose=PURPOSE,
                         details=_why(row) | {"refused": refusal.code})
        return refusal
    audit.append(conn, now=now, actor=actor, action=audit.LOOK_IN, municipality_id=row["municipality_id"],
                 recipient_id=row["recipient_id"], alarm_id=row["alarm_id"], purpose=PURPOSE,
                 details=_why(row) | {"max_seconds": row["max_seconds"]})
    announce(conn, changed(row["municipality_id"], lookin_id, "started", actor))
    return Started(row | {"state": State.STARTED.value, "started_by": actor, "started_at": now,
                          "view_until": view_until}, view_until)


def _start_refusal(row: dict[str, Any], now: datetime, rules: Rules, open_alarm: bool) -> Refusal | None:
    if _withdrawn(row):
        return Refusal("cancelled")
    if row["state"] != State.DUE:
        # missed, cancelled: said as such (a start that lost to the sweep is told the window closed)
        return Refusal({State.STARTED: "taken", State.DONE: "finished"}.get(row["state"], row["state"]))
    if row["reason"] == Reason.EVENT:
        return None if open_alarm else Refusal("alarm_closed")
    if not in_window(row["due_at"], now, rules.window):
        return Refusal("outside_window", {"opens": row["due_at"] - rules.window.window,
                                          "closes": row["closes_at"]})
    return None


def _withdrawn(row: dict[str, Any]) -> bool:
    """Consent to the look-in's plan was withdrawn (the plan ended on the day): a second line
    behind the cancelled rows. Set only at the moment of withdrawal, so whatever ``now`` a
    unit begun just before it carries, it is refused."""
    return row.get("withdrawn_at") is not None


def _why(row: dict[str, Any]) -> dict[str, Any]:
    """Why the look-in was asked for, for the audit log: the agreed time or the alarm."""
    return {"lookin_id": row["id"], "method": row["method"], "reason": row["reason"],
            "planned": row["planned_local"], "due_at": row["due_at"].isoformat()}


def finish(conn: Connection, lookin_id: int, outcome: Outcome, *, note: str | None, actor: str,
           visible_to: frozenset[int], now: datetime, rules: Rules) -> dict[str, Any] | Refusal:
    """Record the outcome of a look-in the actor started, and what follows from it: a look
    again after the recheck interval, an alarm routed like any other, or the plan's fallback
    (a phone call) when the camera failed. Audited with how long the look-in lasted."""
    row = visible(conn, lookin_id, visible_to)
    if outcome is Outcome.CAMERA_UNAVAILABLE and row["method"] != Kind.CAMERA:
        return Refusal("outcome")
    if row["state"] != State.STARTED or row["started_by"] != actor:
        return Refusal("not_yours" if row["state"] == State.STARTED else
                       "missed" if row["state"] == State.MISSED else "finished")
    if not store.finish(conn, lookin_id, actor=actor, outcome=outcome.value, note=note, now=now):
        return Refusal("finished")
    audit.append(conn, now=now, actor=actor, action=audit.LOOK_IN_ENDED, municipality_id=row["municipality_id"],
                 recipient_id=row["recipient_id"], alarm_id=row["alarm_id"], purpose=PURPOSE,
                 details=_why(row) | {"outcome": outcome.value,
                                      "seconds": round((now - row["started_at"]).total_seconds())})
    then = after(outcome, recheck=row["reason"] == Reason.RECHECK, now=now, recheck_after=rules.recheck,
                 fallback=Fallback(row["fallback"]), withdrawn=row["withdrawn_at"] is not None)
    added = []
    for step in then.steps:
        if isinstance(step, LookAgain):
            added += store.add_lookins(conn, [new_lookin(_plan_ref(row), Reason.RECHECK, Kind(row["method"]), step.at, now,
                                                   rules.window, previous_id=lookin_id)])
        elif isinstance(step, RaiseAlarm):
            _raise(conn, row, step, now, rules, actor=actor)
    if then.fallback_call:
        # The camera failed: the person is phoned instead, now, as a look-in of its own.
        added += store.add_lookins(conn, [new_lookin(_plan_ref(row), Reason.FALLBACK, Kind.PHONE, now, now, rules.window,
                                               previous_id=lookin_id)])
    if row["alarm_id"] is not None:
        append_event(conn, row["alarm_id"], Event(EventKind.LOOK_IN, now, actor, {
            "phase": "finished", "lookin_id": lookin_id, "method": row["method"], "outcome": outcome.value}))
    announce(conn, changed(row["municipality_id"], lookin_id, "finished", actor))
    for new_id in added:
        announce(conn, changed(row["municipality_id"], new_id, "added", actor))
    return store.lookin(conn, lookin_id)


# --- after an alarm (event-based) ------------------------------------------------------------------

def event_allowed(conn: Connection, alarm: dict[str, Any], *, today) -> bool:
    """Does the person's plan allow a look-in after this (open) alarm (the card's button)."""
    return (alarm.get("recipient_id") is not None and alarm.get("state") != AlarmState.CLOSED
            and store.event_plan(conn, alarm["recipient_id"], today) is not None)


def after_alarm(conn: Connection, alarm_id: str, *, actor: str, visible_to: frozenset[int], now: datetime,
                rules: Rules) -> Started | Refusal:
    """A look-in after one of the person's alarms (a bed exit, a fall, no activity), started at
    once for the operator: only while the alarm is open and only when the person's plan allows
    event-based supervision. On the alarm's timeline; a refusal is audited."""
    # Locked: two operators pressing "Innsyn" at once through two nodes would each find no
    # look-in and each start one; the second waits here and finds the first's.
    alarm = store.alarm_of(conn, alarm_id, lock=True)
    if alarm is None or alarm["municipality_id"] not in visible_to:
        raise LookinNotFound(alarm_id)
    # The plan read for share: a withdrawal on another node waits for this unit, and then ends
    # the look-in it starts (its picture), rather than missing it.
    plan = (store.event_plan(conn, alarm["recipient_id"], now.astimezone(OSLO).date(), lock=True)
            if alarm["recipient_id"] else None)
    refusal = (Refusal("alarm_closed") if alarm["state"] == AlarmState.CLOSED
               else Refusal("no_event_plan") if plan is None else None)
    if refusal is not None:
        audit.append(conn, now=now, actor=actor, action=audit.LOOK_IN_REFUSED, municipality_id=alarm["municipality_id"],
                     recipient_id=alarm["recipient_id"], alarm_id=alarm_id, purpose=PURPOSE,
                     details={"reason": Reason.EVENT.value, "refused": refusal.code})
        return refusal
    already = store.open_after(conn, alarm_id)
    if already is not None:
        # One look-in after an alarm at a time: the operator's own again, or a colleague's.
        return Started(store.lookin(conn, already["id"]), already["view_until"]) if (
            already["started_by"] == actor) else Refusal("taken")
    [lookin_id] = store.add_lookins(conn, [new_lookin(plan, Reason.EVENT, Kind(plan["kind"]), now, now, rules.window,
                                                alarm_id=alarm_id)]) or [None]
    if lookin_id is None:
        return Refusal("taken")  # the same moment's look-in for this plan exists: a colleague's
    started = start(conn, lookin_id, actor=actor, visible_to=visible_to, now=now, rules=rules, open_alarm=True)
    if isinstance(started, Started):
        append_event(conn, alarm_id, Event(EventKind.LOOK_IN, now, actor, {
            "phase": "started", "lookin_id": lookin_id, "method": plan["kind"]}))
    return started


def watchable(row: dict[str, Any], *, actor: str, now: datetime) -> Refusal | None:
    """May ``actor`` see the camera's picture now: a camera look-in they started, within its
    length (the start was only allowed in the window, or for an open alarm)."""
    if row["method"] != Kind.CAMERA:
        return Refusal("not_camera")
    if _withdrawn(row):
        return Refusal("cancelled")
    if row["state"] != State.STARTED or row["started_by"] != actor:
        return Refusal("not_yours")
    if row["view_until"] is None or now >= row["view_until"]:
        return Refusal("view_over")
    return None


def camera_opened(conn: Connection, row: dict[str, Any], device: dict[str, Any], *, actor: str, now: datetime) -> None:
    """The camera's picture was opened: who, when, why (the look-in) and until when."""
    audit.append(conn, now=now, actor=actor, action=audit.LOOK_IN, municipality_id=row["municipality_id"],
                 recipient_id=row["recipient_id"], alarm_id=row["alarm_id"], purpose=PURPOSE,
                 details=_why(row) | {"camera": device["identity"], "until": row["view_until"].isoformat()})


def camera_closed(conn: Connection, lookin_id: int, *, seconds: float, now: datetime) -> None:
    """The camera's picture was closed (by its length, the outcome, or the node stopping)."""
    row = store.lookin(conn, lookin_id)
    if row is None:
        return
    audit.append(conn, now=now, actor=ACTOR, action=audit.LOOK_IN_ENDED, municipality_id=row["municipality_id"],
                 recipient_id=row["recipient_id"], alarm_id=row["alarm_id"], purpose=PURPOSE,
                 details=_why(row) | {"camera_seconds": seconds})


def _plan_ref(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["plan_id"], "municipality_id": row["municipality_id"], "recipient_id": row["recipient_id"]}


def _raise(conn: Connection, row: dict[str, Any], step: RaiseAlarm, now: datetime, rules: Rules, *,
           actor: str) -> str:
    """An alarm for the person, routed like any other; its payload says which look-in and why."""
    received = receiving.receive(conn, receiving.NewAlarm(
        municipality_id=row["municipality_id"], recipient_id=row["recipient_id"], device_id=None,
        alarm_type=alarm_type(step.alarm_type), source=SOURCE, actor=actor, occurred_at=now,
        payload={"supervision": {"lookin_id": row["id"], "reason": step.reason, "method": row["method"],
                                 "due_at": row["due_at"].isoformat(), "planned": row["planned_local"]}},
        idempotency_scope=SOURCE, idempotency_key=f"{row['id']}:{step.alarm_type}:{step.reason}",
    ), now=now, answer_deadline=rules.answer_deadline, rules_cache=rules.rules_cache)
    store.raised(conn, row["id"], received.alarm_id)
    return received.alarm_id


class RoundWorker(PeriodicWorker):
    """Schedules look-ins and finds late and missed ones every ``poll_seconds``."""

    name = "respons-rounds"

    def __init__(self, journal: Journal, clock: Clock, rules: Rules, *, poll_seconds: float):
        super().__init__(poll_seconds=poll_seconds)
        self._journal, self._clock, self._rules = journal, clock, rules

    async def run_once(self) -> int:
        # Each step its own unit: a row that fails one step never holds back the others (a
        # plan that cannot be scheduled must not stop the alarm for a missed look-in).
        total = 0
        for step in SWEEP_STEPS:
            while True:
                work = await self._journal.run(lambda conn: step(conn, self._clock(), self._rules))
                total += work
                if work < SWEEP_LIMIT:
                    break
        return total
