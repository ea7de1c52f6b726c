"""Power-failure storms: many devices of one municipality report mains loss at once.

When the power goes in a village, every safety alarm there reports AC loss within a minute.
Shown one by one they would bury the fall alarm that comes in at the same time. So once
``THRESHOLD`` AC-loss alarms of one municipality arrive within ``WINDOW``, they become
*members* of one group alarm (the *leader*, source ``storm``): the queue and the responder
app show the leader with its member count, the members' own clocks and offers stop, and
closing the leader clears every member. Later AC-loss alarms of the municipality join the
open leader. Every member stays an alarm of its own (nothing a device said is lost, and a
retransmit still finds its alarm by its idempotency key); the leader only groups them.

Only AC loss storms: other technical faults are rare at once, and a group of assistance
alarms would hide people.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from respons.domain import routing as routing_rules
from respons.domain.alarm_types import alarm_type
from respons.domain.lifecycle import OPEN_STATES, Outcome
from respons.engine import timers
from respons.store.db import is_postgres
from respons.store.journal import announce
from respons.store.tables import alarms

STORM_TYPE = "power_lost"
SOURCE = "storm"
ACTOR = "system:storm"
THRESHOLD = 5  # this many AC-loss alarms (the new one included) within WINDOW make a storm
WINDOW = timedelta(minutes=10)
_OPEN = sorted(s.value for s in OPEN_STATES)
_PRIORITY = int(alarm_type(STORM_TYPE).priority)


def open_leader(conn: Connection, municipality_id: int) -> str | None:
    # Asked on every AC loss, so it must stay cheap as the table grows: only open storm
    # alarms (a handful at most) are read, through ix_alarms_source_state, and the
    # municipality is picked here. Filtering on municipality in SQL lets SQLite's planner
    # prefer the municipality index and walk all of its alarms.
    query = select(alarms.c.id, alarms.c.municipality_id).where(alarms.c.source == SOURCE, alarms.c.state.in_(_OPEN))
    if is_postgres(conn):
        # A node adding a member waits for another that is closing the group right now.
        query = query.with_for_update()
    for leader_id, leader_municipality in conn.execute(query):
        if leader_municipality == municipality_id:
            return leader_id
    return None


def recent_ungrouped(conn: Connection, municipality_id: int, now: datetime) -> list[str]:
    # Read through the queue index (open state, priority, received in the window): the open
    # technical alarms of the last minutes, never a municipality's whole history.
    rows = conn.execute(select(alarms.c.id, alarms.c.municipality_id, alarms.c.type, alarms.c.source, alarms.c.group_id)
                        .where(alarms.c.state.in_(_OPEN), alarms.c.priority == _PRIORITY,
                               alarms.c.received_at >= now - WINDOW)
                        .order_by(alarms.c.received_at))
    return [r.id for r in rows if r.municipality_id == municipality_id and r.type == STORM_TYPE
            and r.source != SOURCE and r.group_id is None]


def join(conn: Connection, leader_id: str, member_ids: list[str], *, municipality_id: int, now: datetime) -> None:
    """Make ``member_ids`` members of the leader: out of the queue, their clocks stopped."""
    if member_ids:
        conn.execute(update(alarms).where(alarms.c.id.in_(member_ids)).values(group_id=leader_id))
    members = conn.execute(select(alarms.c.id, alarms.c.route, alarms.c.route_step, alarms.c.mission,
                                  alarms.c.answered_by).where(alarms.c.id.in_(member_ids))).all() if member_ids else []
    for member in members:
        timers.cancel_all(conn, alarm_id=member.id)
        # Phones it was offered to must see it leave their list.
        field = routing_rules.audience(member.route, member.route_step, municipality_id, member.mission,
                                       (member.answered_by,))
        announce(conn, {"alarm_id": member.id, "municipality_id": municipality_id, "event": "grouped",
                        "state": "grouped", "seq": 0, "priority": 4, "audience": sorted(field)})
    leader = conn.execute(select(alarms.c.state, alarms.c.seq, alarms.c.priority).where(alarms.c.id == leader_id)).one()
    # The leader's row shows a new member count.
    announce(conn, {"alarm_id": leader_id, "municipality_id": municipality_id, "event": "grouped",
                    "state": leader.state, "seq": leader.seq, "priority": leader.priority})


def member_counts(conn: Connection, leader_ids: list[str]) -> dict[str, int]:
    if not leader_ids:
        return {}
    rows = conn.execute(select(alarms.c.group_id, func.count()).where(alarms.c.group_id.in_(leader_ids))
                        .group_by(alarms.c.group_id))
    return {group_id: n for group_id, n in rows}


def clear_members(conn: Connection, leader_id: str, *, outcome: Outcome | None, now: datetime) -> int:
    """The leader is closed: so is every member still open, with the leader's outcome."""
    from respons.engine import alarms as alarm_service  # alarm_service calls into this module

    members = conn.execute(select(alarms.c.id).where(alarms.c.group_id == leader_id, alarms.c.state.in_(_OPEN))).scalars().all()
    for member in members:
        alarm_service.clear(conn, member, actor=ACTOR, now=now, reason="storm_group_closed",
                            outcome=outcome or Outcome.CLEARED)
    return len(members)
