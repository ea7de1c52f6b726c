"""Storms, the rule: when does a run of technical alarms of one kind become one group alarm?

Two kinds of storm, one rule:

- **Power failure** (``power_lost``): when the power goes in a village, every safety alarm
  there reports AC loss within a minute. Grouped per municipality.
- **Outage** (``device_silent``): when a mobile network, a base station or an internet
  provider goes down, every device behind it falls silent at once and supervision raises
  lost contact for each. Grouped per municipality and, where the registry knows it, per
  network (``devices.network``: an operator, a base station): the technician sees "Telenor
  in Kommune X, 50,000 devices", not 50,000 rows, and the centre sees that those people
  cannot call for help right now.

Shown one by one they would bury the fall alarm that comes in at the same time. So once
``threshold`` alarms of one kind and group key arrive within ``window``, they become
*members* of one group alarm (the *leader*, source ``SOURCE``). The engine does the grouping
(engine/storms.py); statistics and invoices leave the leader out (it is not a device's
alarm).

Other technical faults are rare at once, and a group of assistance alarms would hide people:
only these two kinds are grouped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from respons.domain.alarm_types import STORM_SOURCE

SOURCE = STORM_SOURCE
ACTOR = "system:storm"


@dataclass(frozen=True)
class StormKind:
    name: str  # "power" | "outage": in the leader's payload, for screens
    alarm_type: str  # the members' (and the leader's) alarm type
    threshold: int  # this many alarms (the new ones included) within ``window`` make a storm
    window: timedelta
    by_network: bool  # grouped per network within the municipality, where it is known


POWER = StormKind("power", "power_lost", threshold=5, window=timedelta(minutes=10), by_network=False)
OUTAGE = StormKind("outage", "device_silent", threshold=5, window=timedelta(minutes=10), by_network=True)
KINDS = {kind.alarm_type: kind for kind in (POWER, OUTAGE)}


@dataclass(frozen=True)
class GroupKey:
    """Which storm an alarm would join: its kind, municipality and (for outages) network."""

    kind: StormKind
    municipality_id: int
    network: str | None

    @property
    def sort_key(self) -> tuple[str, int, str]:
        """The order in which a unit takes several keys' locks (the same on every node)."""
        return (self.kind.name, self.municipality_id, self.network or "")


def kind_of(alarm_type_code: str, source: str) -> StormKind | None:
    """The storm an alarm of this type can be grouped into (a leader never joins another)."""
    if source == SOURCE:
        return None
    return KINDS.get(alarm_type_code)


def key_for(kind: StormKind, municipality_id: int, network: str | None) -> GroupKey:
    return GroupKey(kind, municipality_id, network if kind.by_network else None)


def forms_storm(kind: StormKind, recent_ungrouped: int, arriving: int = 1) -> bool:
    """Do ``arriving`` new alarms, with this many recent ungrouped ones of their group key,
    start a storm?"""
    return recent_ungrouped + arriving >= kind.threshold


def leader_payload(key: GroupKey) -> dict:
    storm = {"kind": key.kind.name, "threshold": key.kind.threshold,
             "window_minutes": key.kind.window.total_seconds() / 60}
    if key.network is not None:
        storm["network"] = key.network
    return {"storm": storm}


def leader_matches(key: GroupKey, *, municipality_id: int, alarm_type_code: str, payload: dict | None) -> bool:
    """Is this open group alarm the one for ``key``?"""
    network = ((payload or {}).get("storm") or {}).get("network")
    return (municipality_id == key.municipality_id and alarm_type_code == key.kind.alarm_type
            and network == key.network)
