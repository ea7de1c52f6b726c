"""Receiving an alarm: store it, or recognise a retransmit, and send it on its way.

``receive`` is the unit of work every intake ends in (HTTP, DC-09, SCAIP, MQTT through
``intake/devices.py``, and lost contact from supervision). It asks routing for the plan
(``engine/routing.plan_for``), joins a storm (power failure, outage) when the rule says so
(``engine/storms``), and for the common case, straight to the centre, writes the alarm
with its final projection in one insert and starts the answer deadline. ``receive_many`` does
the same for a batch (intake/batches.py), ``receive_members`` for many members of one storm.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from respons.domain import lifecycle
from respons.domain import storms as storm_rules
from respons.domain.alarm_types import AlarmType, alarm_type
from respons.domain.lifecycle import Event, EventKind, State
from respons.domain.routing import Target as RouteTarget
from respons.engine import routing, storms, timeline, timers
from respons.engine.routing import RulesCache
from respons.observability import metrics
from respons.store import alarms as alarm_rows
from respons.store.db import lock_for_transaction
from respons.store.journal import after_commit


class IdempotencyConflict(Exception):
    """The key was used before for a different request."""

    def __init__(self, key: str, alarm_id: str):
        super().__init__(
            f"Idempotency key {key!r} was already used for a different alarm ({alarm_id}). "
            "Use a new key for a new alarm; resend the identical request to retry."
        )
        self.alarm_id = alarm_id


@dataclass(frozen=True)
class NewAlarm:
    municipality_id: int
    recipient_id: int | None
    device_id: int | None
    alarm_type: AlarmType
    source: str
    actor: str  # who delivered it: "device:TA-0001", "http:vendor"
    occurred_at: datetime
    payload: dict[str, Any] | None = None
    idempotency_scope: str | None = None
    idempotency_key: str | None = None
    fingerprint: str | None = None
    # Set when occurred_at is far from the receive time (domain/clock_check.py): kept on the
    # "received" event, so the timeline and the console say the device's time is not believed.
    clock_suspect: dict[str, Any] | None = None
    # The network the device reports through (devices.network): an outage's group key.
    network: str | None = None


@dataclass(frozen=True)
class Received:
    alarm_id: str
    duplicate: bool
    state: State
    received_at: datetime


def receive(conn: Connection, new: NewAlarm, *, now: datetime, answer_deadline: timedelta,
            rules_cache: RulesCache | None = None) -> Received:
    """Store a new alarm, or recognise a retransmit of one we already have.

    Two nodes committing the same idempotency key at the same moment: the unique constraint
    makes the second insert fail, the journal rolls back that unit alone, the sender gets no
    answer and retries, and the retry finds the first node's alarm. (A savepoint or
    ``ON CONFLICT`` here would handle it in place, but cost every alarm on the hot path for
    a race that needs two nodes and one device retransmitting within milliseconds.)
    """
    if new.idempotency_key is not None:
        existing = _find_by_idempotency(conn, new)
        if existing is not None:
            return existing
    leader = _storm_leader(conn, new, now=now, answer_deadline=answer_deadline, rules_cache=rules_cache)
    if leader is not None:
        # A storm member: stored like any alarm, but neither routed nor timed; its leader is.
        (member,) = receive_members(conn, [(new, now)], leader, municipality_id=new.municipality_id)
        if isinstance(member, IdempotencyConflict):
            raise member
        return member
    alarm_id = alarm_rows.new_id()
    # Counted after the COMMIT, once: a unit can run twice, or be rolled back.
    after_commit(conn, lambda: metrics.alarm_received(new.source, new.alarm_type.code))
    received = _received_event(new, now)
    projection = lifecycle.start(received)
    plan = routing.plan_for(conn, municipality_id=new.municipality_id, recipient_id=new.recipient_id,
                            category=new.alarm_type.category.value, device_id=new.device_id, now=now,
                            rules_cache=rules_cache)
    to_centre = plan.first.target is RouteTarget.CENTRE
    events = [received]
    if to_centre:
        # The common case, folded here so the row is inserted once with its final
        # projection instead of inserted and then updated on the hot path.
        queued = Event(EventKind.QUEUED, now, routing.SYSTEM, {"to": "response_centre", "step": 0,
                                                               "reason": plan.reason.value})
        projection = lifecycle.apply(projection, queued)
        events.append(queued)
    alarm_rows.insert_alarm(conn, {**_columns(new, alarm_id, now), "route": plan.to_json(), "route_step": 0,
                                   **alarm_rows.projection_columns(projection)}, events)
    if to_centre:
        timeline.announce_change(conn, alarm_id, new.municipality_id, projection, EventKind.QUEUED,
                                 priority=int(new.alarm_type.priority))
        timers.schedule(conn, timeline.ANSWER_DEADLINE, alarm_id=alarm_id, due_at=now + answer_deadline, now=now)
    else:
        routing.enter_step(conn, alarm_id, 0, now)
        projection = alarm_rows.projection(conn, alarm_id)
    return Received(alarm_id=alarm_id, duplicate=False, state=projection.state, received_at=now)


def receive_many(conn: Connection, arrivals: list[tuple[NewAlarm, datetime]], *, answer_deadline: timedelta,
                 rules_cache: RulesCache | None = None) -> list[Received | IdempotencyConflict]:
    """``receive`` for many alarms at once (a batch unit, intake/batches.py), each with the
    time it arrived: the same alarms, events, answer deadlines and announcements, with one
    query per kind of lookup and one batched insert per table for the common case (a new
    alarm straight to the centre). An alarm that may join a storm, or whose plan starts
    elsewhere than the centre, takes ``receive`` itself, in order. A retransmit finds its
    alarm, also one made earlier in the same batch; a key reused for a different request is
    that item's ``IdempotencyConflict`` (returned, not raised: the others are written)."""
    results: list[Received | IdempotencyConflict | None] = [None] * len(arrivals)
    stored = alarm_rows.by_idempotency_many(
        conn, [(new.idempotency_scope, new.idempotency_key) for new, _now in arrivals if new.idempotency_key is not None])
    candidates: list[int] = []  # -1 - index: through ``receive`` itself, in order
    storming: dict[storm_rules.GroupKey, list[int]] = {}
    for index, (new, now) in enumerate(arrivals):
        row = stored.get(_key(new))
        if row is not None:
            results[index] = _known(new, row.id, row.request_fingerprint, State(row.state), row.received_at)
        elif (kind := storm_rules.kind_of(new.alarm_type.code, new.source)) is not None:
            storming.setdefault(storm_rules.key_for(kind, new.municipality_id, new.network), []).append(index)
        else:
            candidates.append(index)
    for key, indexes in sorted(storming.items(), key=lambda item: item[0].sort_key):
        # Together, as the sequence of ``receive`` would leave them: all members of the storm
        # they make or join (the first few of a new storm join it at once instead of being
        # routed first and grouped a moment later), or each an alarm of its own.
        now = max(arrivals[i][1] for i in indexes)
        # A retransmit in the batch is not another device's alarm.
        arriving = len({_key(arrivals[i][0]) or i for i in indexes})
        leader = storm_leader(conn, key, arriving=arriving, now=now, answer_deadline=answer_deadline,
                              rules_cache=rules_cache)
        if leader is None:
            candidates += [-1 - i for i in indexes]
        else:
            members = receive_members(conn, [arrivals[i] for i in indexes], leader, municipality_id=key.municipality_id)
            for i, result in zip(indexes, members):
                results[i] = result
    direct = [i for i in candidates if i >= 0]
    plans = dict(zip(direct, routing.plan_many(conn, [routing.PlanRequest(
        arrivals[i][0].municipality_id, arrivals[i][0].recipient_id, arrivals[i][0].alarm_type.category.value,
        arrivals[i][0].device_id, arrivals[i][1]) for i in direct], rules_cache=rules_cache))) if direct else {}
    made: dict[tuple[str | None, str], tuple[str, str | None, State, datetime]] = {}
    alarm_columns, event_rows, deadlines, queued = [], [], [], []
    for candidate in candidates:
        index = candidate if candidate >= 0 else -1 - candidate
        new, now = arrivals[index]
        key = _key(new)
        if key in made:
            results[index] = _known(new, *made[key])
            continue
        plan = plans.get(index)
        if plan is None or plan.first.target is not RouteTarget.CENTRE:
            received = receive(conn, new, now=now, answer_deadline=answer_deadline, rules_cache=rules_cache)
            results[index] = received
        else:
            alarm_id = alarm_rows.new_id()
            received_event = _received_event(new, now)
            queued_event = Event(EventKind.QUEUED, now, routing.SYSTEM, {"to": "response_centre", "step": 0,
                                                                         "reason": plan.reason.value})
            projection = lifecycle.apply(lifecycle.start(received_event), queued_event)
            alarm_columns.append({**_columns(new, alarm_id, now), "route": plan.to_json(), "route_step": 0,
                                  **alarm_rows.projection_columns(projection)})
            event_rows += [alarm_rows.event_row(alarm_id, 1, received_event), alarm_rows.event_row(alarm_id, 2, queued_event)]
            deadlines.append((alarm_id, now + answer_deadline))
            queued.append((alarm_id, new, projection))
            received = Received(alarm_id=alarm_id, duplicate=False, state=projection.state, received_at=now)
            results[index] = received
        if key is not None:
            made[key] = (received.alarm_id, new.fingerprint, received.state, received.received_at)
    if alarm_columns:
        alarm_rows.insert_many(conn, alarm_columns, event_rows)
        timers.schedule_many(conn, timeline.ANSWER_DEADLINE, deadlines, now=max(now for _new, now in arrivals))
        counts = Counter((new.source, new.alarm_type.code) for _id, new, _p in queued)
        after_commit(conn, lambda: [metrics.alarm_received(source, code, n) for (source, code), n in counts.items()])
        for alarm_id, new, projection in queued:
            timeline.announce_change(conn, alarm_id, new.municipality_id, projection, EventKind.QUEUED,
                                     priority=int(new.alarm_type.priority))
    return results  # type: ignore[return-value]


def _key(new: NewAlarm) -> tuple[str | None, str] | None:
    return (new.idempotency_scope, new.idempotency_key) if new.idempotency_key is not None else None


def _known(new: NewAlarm, alarm_id: str, fingerprint: str | None, state: State,
           received_at: datetime) -> Received | IdempotencyConflict:
    """A retransmit of an alarm already made (or the key reused for a different request)."""
    if new.fingerprint is not None and fingerprint not in (None, new.fingerprint):
        return IdempotencyConflict(new.idempotency_key, alarm_id)
    return Received(alarm_id=alarm_id, duplicate=True, state=state, received_at=received_at)


def _received_event(new: NewAlarm, now: datetime) -> Event:
    data = {"source": new.source, "occurred_at": new.occurred_at.isoformat()}
    if new.clock_suspect is not None:
        data["clock_suspect"] = new.clock_suspect
    return Event(EventKind.RECEIVED, now, new.actor, data)


def _columns(new: NewAlarm, alarm_id: str, now: datetime) -> dict[str, Any]:
    return dict(
        id=alarm_id,
        municipality_id=new.municipality_id,
        recipient_id=new.recipient_id,
        device_id=new.device_id,
        type=new.alarm_type.code,
        category=new.alarm_type.category.value,
        priority=int(new.alarm_type.priority),
        source=new.source,
        occurred_at=new.occurred_at,
        received_at=now,
        payload=new.payload,
        idempotency_scope=new.idempotency_scope,
        idempotency_key=new.idempotency_key,
        request_fingerprint=new.fingerprint,
    )


def _storm_leader(conn: Connection, new: NewAlarm, *, now: datetime, answer_deadline: timedelta,
                  rules_cache: RulesCache | None) -> str | None:
    """The group alarm this alarm joins, if its municipality (or network) is in a storm."""
    kind = storm_rules.kind_of(new.alarm_type.code, new.source)
    if kind is None:
        return None
    return storm_leader(conn, storm_rules.key_for(kind, new.municipality_id, new.network), arriving=1, now=now,
                        answer_deadline=answer_deadline, rules_cache=rules_cache)


def storm_leader(conn: Connection, key: storm_rules.GroupKey, *, arriving: int, now: datetime,
                 answer_deadline: timedelta, rules_cache: RulesCache | None) -> str | None:
    """The open group alarm for ``key``, or a new one if ``arriving`` alarms with the recent
    ungrouped ones make a storm (they join it); None if they do not."""
    # Two nodes sweeping one outage (each its own slice, SKIP LOCKED) must not each form a
    # group: the second waits here until the first has committed its leader, then finds it.
    lock_for_transaction(conn, f"storm:{key.kind.name}:{key.municipality_id}:{key.network}")
    leader = storms.open_leader(conn, key)
    if leader is not None:
        return leader
    recent = storms.recent_ungrouped(conn, key, now)
    if not storm_rules.forms_storm(key.kind, len(recent), arriving):
        return None
    leader = receive(conn, NewAlarm(
        municipality_id=key.municipality_id, recipient_id=None, device_id=None,
        alarm_type=alarm_type(key.kind.alarm_type), source=storm_rules.SOURCE, actor=storm_rules.ACTOR,
        occurred_at=now, payload=storm_rules.leader_payload(key), network=key.network,
    ), now=now, answer_deadline=answer_deadline, rules_cache=rules_cache).alarm_id
    storms.join(conn, leader, recent, municipality_id=key.municipality_id, now=now)
    return leader


def receive_members(conn: Connection, arrivals: list[tuple[NewAlarm, datetime]], leader: str, *,
                    municipality_id: int) -> list[Received | IdempotencyConflict]:
    """Many alarms that join one open storm at once (a network outage's lost contact, a
    batch of AC losses), each with the time it arrived, as batched inserts: what ``receive``
    would do for each, for a fraction of the statements. A retransmit (a key already stored,
    or one made earlier in this call) finds its alarm, as in ``receive``."""
    stored = alarm_rows.by_idempotency_many(
        conn, [(new.idempotency_scope, new.idempotency_key) for new, _now in arrivals if new.idempotency_key is not None])
    made: dict[tuple[str | None, str], tuple[str, str | None, State, datetime]] = {}
    results: list[Received | IdempotencyConflict] = []
    alarm_columns: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    counts: Counter = Counter()
    for new, now in arrivals:
        key = _key(new)
        row = stored.get(key) if key is not None else None
        if row is not None:
            results.append(_known(new, row.id, row.request_fingerprint, State(row.state), row.received_at))
            continue
        if key in made:
            results.append(_known(new, *made[key]))
            continue
        alarm_id = alarm_rows.new_id()
        received = _received_event(new, now)
        projection = lifecycle.start(received)
        alarm_columns.append({**_columns(new, alarm_id, now), "group_id": leader,
                              **alarm_rows.projection_columns(projection)})
        event_rows.append(alarm_rows.event_row(alarm_id, 1, received))
        results.append(Received(alarm_id=alarm_id, duplicate=False, state=projection.state, received_at=now))
        counts[(new.source, new.alarm_type.code)] += 1
        if key is not None:
            made[key] = (alarm_id, new.fingerprint, projection.state, now)
    alarm_rows.insert_many(conn, alarm_columns, event_rows)
    after_commit(conn, lambda: [metrics.alarm_received(source, code, n) for (source, code), n in counts.items()])
    storms.join(conn, leader, [], municipality_id=municipality_id, now=max(now for _new, now in arrivals))
    return results


def _find_by_idempotency(conn: Connection, new: NewAlarm) -> Received | None:
    row = alarm_rows.by_idempotency(conn, new.idempotency_scope, new.idempotency_key)
    if row is None:
        return None
    if new.fingerprint is not None and row.request_fingerprint not in (None, new.fingerprint):
        raise IdempotencyConflict(new.idempotency_key, row.id)
    return Received(alarm_id=row.id, duplicate=True, state=State(row.state), received_at=row.received_at)
