"""voice_calls: the one owner of the table (docs/architecture.md, "Owners")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.engine import Connection

from respons.domain.alarm_types import NOT_A_SERVICE
from respons.store.tables import alarms, contacts, devices, municipalities, node_heartbeats, recipients, voice_calls
from respons.voice.calls import State


def add(conn: Connection, *, call_id: str, alarm_id: str | None, municipality_id: int, direction: str,
        target_kind: str, target_label: str, address: str, operator: str | None, node: str, now: datetime,
        transfer_to: str | None = None, transferred_from: str | None = None) -> None:
    conn.execute(insert(voice_calls).values(
        id=call_id, alarm_id=alarm_id, municipality_id=municipality_id, direction=direction, target_kind=target_kind,
        target_label=target_label, address=address, operator=operator, state=State.RINGING.value, node=node,
        version=1, created_at=now, transfer_to=transfer_to, transferred_from=transferred_from))


def take(conn: Connection, call_id: str, actor: str) -> bool:
    """An operator takes a ringing inbound call; False if it no longer rings, a colleague
    took it first, or it was handed to someone else (the one UPDATE decides, on both databases)."""
    taken = conn.execute(update(voice_calls).where(voice_calls.c.id == call_id, voice_calls.c.state == State.RINGING.value,
                                                   voice_calls.c.direction == "inbound",
                                                   voice_calls.c.accepted_by.is_(None),
                                                   or_(voice_calls.c.transfer_to.is_(None),
                                                       voice_calls.c.transfer_to == actor))
                         # Taken: whom a handed-over call rang for is no longer needed, and the
                         # column is free for this operator to hand it on.
                         .values(accepted_by=actor, operator=actor, transfer_to=None, version=voice_calls.c.version + 1))
    return taken.rowcount == 1


def ringing_inbound(conn: Connection, alarm_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(voice_calls).where(voice_calls.c.alarm_id == alarm_id, voice_calls.c.direction == "inbound",
                                                 voice_calls.c.state == State.RINGING.value)
                       .order_by(voice_calls.c.created_at.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


def get(conn: Connection, call_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(voice_calls).where(voice_calls.c.id == call_id)).mappings().first()
    return dict(row) if row else None


def change(conn: Connection, call_id: str, **values: Any) -> None:
    conn.execute(update(voice_calls).where(voice_calls.c.id == call_id)
                 .values(version=voice_calls.c.version + 1, **values))


def for_alarm(conn: Connection, alarm_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(select(voice_calls).where(voice_calls.c.alarm_id == alarm_id)
                        .order_by(voice_calls.c.created_at)).mappings()
    return [dict(r) for r in rows]


_UNFINISHED = voice_calls.c.state.in_([State.RINGING.value, State.ANSWERED.value])


def unfinished_of_node(conn: Connection, node: str) -> list[dict[str, Any]]:
    """Calls this node was speaking to the gateway for: after a restart, they are lost."""
    rows = conn.execute(select(voice_calls).where(voice_calls.c.node == node, _UNFINISHED)).mappings()
    return [dict(r) for r in rows]


def unfinished_of_silent_nodes(conn: Connection, *, node: str, heard_since: datetime) -> list[dict[str, Any]]:
    """Calls of other nodes that have not written their heartbeat (``node_heartbeats``, every
    few seconds while they serve) since ``heard_since``: the node died, or came back under
    another name (hostname:pid), and nobody speaks to the gateway for these calls any more."""
    alive = select(node_heartbeats.c.node).where(node_heartbeats.c.beat_at >= heard_since)
    rows = conn.execute(select(voice_calls).where(_UNFINISHED, voice_calls.c.node != node,
                                                  voice_calls.c.node.not_in(alive))).mappings()
    return [dict(r) for r in rows]


def finish_if_unfinished(conn: Connection, call_id: str, **values: Any) -> bool:
    """A call's last change, only if it is still ringing or answered: of two nodes ending the
    same call, one does (the one UPDATE decides)."""
    return conn.execute(update(voice_calls).where(voice_calls.c.id == call_id, _UNFINISHED)
                        .values(version=voice_calls.c.version + 1, **values)).rowcount == 1


def alarm_to_call(conn: Connection, alarm_id: str) -> dict[str, Any] | None:
    """An alarm's municipality, recipient, device and the person's phone: whom a call can reach."""
    row = conn.execute(select(alarms.c.id, alarms.c.municipality_id, alarms.c.recipient_id, alarms.c.device_id,
                              recipients.c.phone)
                       .select_from(alarms.outerjoin(recipients, recipients.c.id == alarms.c.recipient_id))
                       .where(alarms.c.id == alarm_id)).mappings().first()
    return dict(row) if row else None


def unit_uri(conn: Connection, device_id: int | None) -> str | None:
    if device_id is None:
        return None
    return conn.execute(select(devices.c.voice_uri).where(devices.c.id == device_id)).scalar()


def contacts_of(conn: Connection, recipient_id: int | None) -> list[tuple[int, str, str]]:
    if recipient_id is None:
        return []
    rows = conn.execute(select(contacts.c.id, contacts.c.name, contacts.c.phone)
                        .where(contacts.c.recipient_id == recipient_id).order_by(contacts.c.priority))
    return [tuple(r) for r in rows]


def alarm_for_caller(conn: Connection, caller_user: str | None, *, since: datetime) -> dict[str, Any] | None:
    """The open alarm an inbound call belongs to: the newest since ``since`` raised by the unit
    whose identity or voice address is the caller, else a SCAIP alarm whose ``crd`` (the
    number the device said it would call from) is the caller (docs/voice.md)."""
    if not caller_user:
        return None
    units = select(devices.c.id).where(or_(devices.c.identity == caller_user,
                                           devices.c.voice_uri.like(f"sip:{_like(caller_user)}@%", escape="\\")))
    open_alarms = (select(alarms.c.id, alarms.c.municipality_id, alarms.c.device_id, alarms.c.payload)
                   .where(alarms.c.state != "closed", alarms.c.received_at >= since)
                   .order_by(alarms.c.received_at.desc()))
    found = conn.execute(open_alarms.where(alarms.c.device_id.in_(units)).limit(1)).mappings().first()
    if found is None:
        for row in conn.execute(open_alarms.where(alarms.c.source == "scaip").limit(200)).mappings():
            if ((row["payload"] or {}).get("call") or {}).get("caller_id") == caller_user:
                found = row
                break
    return dict(found) if found else None


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def device_identity(conn: Connection, device_id: int | None) -> str | None:
    if device_id is None:
        return None
    return conn.execute(select(devices.c.identity).where(devices.c.id == device_id)).scalar()


def host_municipality(conn: Connection) -> int | None:
    """The host municipality: where a call that no alarm explains is answered."""
    return conn.execute(select(municipalities.c.id).where(municipalities.c.role == "host")
                        .order_by(municipalities.c.id).limit(1)).scalar()


def call_facts(conn: Connection, *, municipality_id: int, start: datetime, end: datetime) -> list[tuple]:
    """(alarm id, state, answered at, ended at) of the calls a municipality's centre made or
    took in [start, end) (the statistics' calls figures)."""
    # Calls on the centre's own alarms (an unknown caller's) are no service to the
    # municipality, as those alarms are not (domain/alarm_types.NOT_A_SERVICE).
    rows = conn.execute(select(voice_calls.c.alarm_id, voice_calls.c.state, voice_calls.c.answered_at,
                               voice_calls.c.ended_at)
                        .select_from(voice_calls.join(alarms, alarms.c.id == voice_calls.c.alarm_id))
                        .where(voice_calls.c.municipality_id == municipality_id, voice_calls.c.created_at >= start,
                               voice_calls.c.created_at < end, alarms.c.source.not_in(NOT_A_SERVICE)))
    return [tuple(r) for r in rows]


def expected_call(conn: Connection, alarm_id: str) -> dict[str, Any] | None:
    """When a unit said it would call (SCAIP ``cha`` 0) for this alarm: its receipt time and
    whether any call from it has come; None when no call was announced."""
    row = conn.execute(select(alarms.c.received_at, alarms.c.payload).where(alarms.c.id == alarm_id)).first()
    if row is None or not ((row.payload or {}).get("call") or {}).get("voice_call_expected"):
        return None
    came = conn.execute(select(voice_calls.c.id).where(voice_calls.c.alarm_id == alarm_id,
                                                       voice_calls.c.direction == "inbound").limit(1)).first()
    return {"received_at": row.received_at, "came": came is not None}


def callback_wanted(conn: Connection, alarm_id: str) -> bool:
    """A unit that asked to be called back (SCAIP ``cha`` 1) and has not been reached yet (a
    call to it that was answered)."""
    payload = conn.execute(select(alarms.c.payload).where(alarms.c.id == alarm_id)).scalar()
    if not ((payload or {}).get("call") or {}).get("callback_requested"):
        return False
    reached = conn.execute(select(voice_calls.c.id).where(
        voice_calls.c.alarm_id == alarm_id, voice_calls.c.direction == "outbound",
        voice_calls.c.target_kind == "unit", voice_calls.c.answered_at.is_not(None)).limit(1)).first()
    return reached is None


def ask(conn: Connection, call_id: str, what: str) -> bool:
    """Leave a request for the node that speaks for the call (hangup, hold, resume)."""
    asked = conn.execute(update(voice_calls).where(voice_calls.c.id == call_id,
                                                   voice_calls.c.state.in_([State.RINGING.value, State.ANSWERED.value]))
                         .values(request=what, version=voice_calls.c.version + 1))
    return asked.rowcount == 1


def take_request(conn: Connection, call_id: str) -> str | None:
    """The request left for this call, cleared as it is read."""
    what = conn.execute(select(voice_calls.c.request).where(voice_calls.c.id == call_id)).scalar()
    if what is not None:
        conn.execute(update(voice_calls).where(voice_calls.c.id == call_id, voice_calls.c.request == what)
                     .values(request=None))
    return what


def begin_transfer(conn: Connection, call_id: str, *, to: str, operator: str) -> int | None:
    """Mark ``operator``'s answered call as being handed to ``to``; the call's new version, or
    None when it cannot be (not theirs, not answered, a transfer under way): the one UPDATE
    decides, so two clicks send one REFER. The call's node sees ``transfer_to`` and acts."""
    begun = conn.execute(update(voice_calls).where(voice_calls.c.id == call_id, voice_calls.c.operator == operator,
                                                   voice_calls.c.state == State.ANSWERED.value,
                                                   voice_calls.c.transfer_to.is_(None))
                         .values(transfer_to=to, version=voice_calls.c.version + 1))
    if begun.rowcount != 1:
        return None
    return conn.execute(select(voice_calls.c.version).where(voice_calls.c.id == call_id)).scalar()


def end_transfer(conn: Connection, call_id: str, *, to: str | None = None) -> bool:
    """The transfer under way on ``call_id`` is over (done: ``to`` answered its answered call;
    failed: ``to`` None); False when it was over already. The one UPDATE decides, so of two
    nodes seeing the same answer (or an answer and the transfer's time running out at the same
    moment) one records it."""
    condition = (voice_calls.c.transfer_to.is_not(None) if to is None
                 else (voice_calls.c.transfer_to == to) & (voice_calls.c.state == State.ANSWERED.value))
    return conn.execute(update(voice_calls).where(voice_calls.c.id == call_id, condition)
                        .values(transfer_to=None, version=voice_calls.c.version + 1)).rowcount == 1


def transfer_of(conn: Connection, call_id: str, *, since: datetime) -> dict[str, Any] | None:
    """The unit's new call after the operator handed ``call_id`` to a colleague at ``since``
    (None: not yet; an earlier attempt's call does not count)."""
    row = conn.execute(select(voice_calls).where(voice_calls.c.transferred_from == call_id,
                                                 voice_calls.c.created_at >= since)
                       .order_by(voice_calls.c.created_at.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


def end_if_untaken(conn: Connection, call_id: str, *, now: datetime, failure: str) -> bool:
    """End a ringing inbound call that nobody has taken; False if someone took it first (the
    one UPDATE decides, as ``take`` does)."""
    ended = conn.execute(update(voice_calls).where(voice_calls.c.id == call_id, voice_calls.c.state == State.RINGING.value,
                                                   voice_calls.c.accepted_by.is_(None))
                         .values(state=State.FAILED.value, failure=failure, ended_at=now,
                                 version=voice_calls.c.version + 1))
    return ended.rowcount == 1
