"""Power-failure storms, the rule: when does a run of AC-loss alarms become one group alarm?

When the power goes in a village, every safety alarm there reports AC loss within a minute.
Shown one by one they would bury the fall alarm that comes in at the same time. So once
``THRESHOLD`` AC-loss alarms of one municipality arrive within ``WINDOW``, they become
*members* of one group alarm (the *leader*, source ``SOURCE``). The engine does the grouping
(engine/storms.py); statistics and invoices leave the leader out (it is not a device's alarm).

Only AC loss storms: other technical faults are rare at once, and a group of assistance
alarms would hide people.
"""

from __future__ import annotations

from datetime import timedelta

from respons.domain.alarm_types import STORM_SOURCE

STORM_TYPE = "power_lost"
SOURCE = STORM_SOURCE
ACTOR = "system:storm"
THRESHOLD = 5  # this many AC-loss alarms (the new one included) within WINDOW make a storm
WINDOW = timedelta(minutes=10)


def may_join(alarm_type_code: str, source: str) -> bool:
    """Only a device's AC loss can be grouped (a leader never joins another leader)."""
    return alarm_type_code == STORM_TYPE and source != SOURCE


def forms_storm(recent_ungrouped: int) -> bool:
    """Does a new AC loss, with this many recent ungrouped ones of its municipality, start a storm?"""
    return recent_ungrouped + 1 >= THRESHOLD
