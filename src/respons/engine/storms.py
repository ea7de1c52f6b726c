"""Power-failure storms: grouping a municipality's AC-loss alarms under one group alarm.

The rule (when a run of AC losses is a storm) is ``domain/storms.py``. Here: the queue and
the responder app show the group alarm (the *leader*) with its member count, the members'
own clocks and offers stop, and later AC losses of the municipality join the open leader.
Closing the leader clears every member (engine/alarms.py). Every member stays an alarm of
its own (nothing a device said is lost, and a retransmit still finds its alarm by its
idempotency key); the leader only groups them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Connection

from respons.domain import routing as routing_rules
from respons.domain import storms as rules
from respons.domain.alarm_types import alarm_type
from respons.engine import timers
from respons.store import alarms as alarm_rows
from respons.store.journal import announce

_PRIORITY = int(alarm_type(rules.STORM_TYPE).priority)


def open_leader(conn: Connection, municipality_id: int) -> str | None:
    return alarm_rows.open_storm_leader(conn, municipality_id, source=rules.SOURCE)


def recent_ungrouped(conn: Connection, municipality_id: int, now: datetime) -> list[str]:
    """The municipality's open AC losses of the last ``WINDOW`` not yet in a group."""
    rows = alarm_rows.recent_open(conn, priority=_PRIORITY, since=now - rules.WINDOW)
    return [r.id for r in rows if r.municipality_id == municipality_id and rules.may_join(r.type, r.source)
            and r.group_id is None]


def join(conn: Connection, leader_id: str, member_ids: list[str], *, municipality_id: int, now: datetime) -> None:
    """Make ``member_ids`` members of the leader: out of the queue, their clocks stopped."""
    if member_ids:
        alarm_rows.set_group(conn, member_ids, leader_id)
    for member in alarm_rows.field_rows(conn, member_ids):
        timers.cancel_all(conn, alarm_id=member.id)
        # Phones it was offered to must see it leave their list.
        field = routing_rules.audience(member.route, member.route_step, municipality_id, member.mission,
                                       (member.answered_by,))
        announce(conn, {"alarm_id": member.id, "municipality_id": municipality_id, "event": "grouped",
                        "state": "grouped", "seq": 0, "priority": 4, "audience": sorted(field)})
    leader = alarm_rows.head(conn, leader_id)
    # The leader's row shows a new member count.
    announce(conn, {"alarm_id": leader_id, "municipality_id": municipality_id, "event": "grouped",
                    "state": leader.state, "seq": leader.seq, "priority": leader.priority})
