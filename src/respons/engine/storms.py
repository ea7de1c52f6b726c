"""Storms: grouping a run of AC-loss or lost-contact alarms under one group alarm.

The rule (when a run is a storm, and what its group key is) is ``domain/storms.py``. Here:
the queue and the responder app show the group alarm (the *leader*) with its member count,
the members' own clocks and offers stop, and later alarms of the same key join the open
leader. Closing the leader clears every member (engine/alarms.py); when every member of an
outage has cleared on its own (the devices are back), the leader clears itself. Every
member stays an alarm of its own (nothing a device said is lost, a retransmit still finds its
alarm by its idempotency key, and each person's record shows that their alarm was out of
contact); the leader only groups them.
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

_PRIORITIES = {int(alarm_type(kind.alarm_type).priority) for kind in rules.KINDS.values()}


def open_leader(conn: Connection, key: rules.GroupKey) -> str | None:
    for leader in alarm_rows.open_storm_leaders(conn, source=rules.SOURCE):
        if rules.leader_matches(key, municipality_id=leader.municipality_id, alarm_type_code=leader.type,
                                payload=leader.payload):
            return leader.id
    return None


def recent_ungrouped(conn: Connection, key: rules.GroupKey, now: datetime) -> list[str]:
    """The key's open alarms of the last ``window`` not yet in a group."""
    rows = [row for priority in _PRIORITIES
            for row in alarm_rows.recent_open(conn, priority=priority, since=now - key.kind.window)]
    return [r.id for r in rows
            if r.municipality_id == key.municipality_id and rules.kind_of(r.type, r.source) is key.kind
            and r.group_id is None and rules.key_for(key.kind, r.municipality_id, r.network) == key]


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
