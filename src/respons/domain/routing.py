"""Where an alarm goes: the agreement's rules, evaluated for one alarm at one moment.

``plan_route(alarm, rules, now)`` is pure: the agreement's windows and special rules are
data (``AgreementRules``, loaded from the tables by the engine), ``now`` is given, and the
answer is a ``RoutingPlan``: an ordered chain of steps, each with how long it is given
before the next step takes over. The engine freezes the plan onto the alarm when it
starts (DESIGN.md: editing an agreement does not change running alarms) and walks it
with timers.

The three service models (seed 000 §1, DOMAIN.md "Service models"):

1. **Full response**: the centre answers. Plan: ``[centre]``.
2. **Routing with backup**: the recipient's zone first, offered again every
   ``resend_seconds``; nobody accepts within the backup time (``escalation_minutes``,
   4 by default as in the Farsund pilot) → the centre. Plan: ``[zone (240 s), centre]``.
3. **Routing without backup**: the zone only, offered round again until someone accepts;
   a ``last_resort_minutes`` may name when the centre takes it anyway. Plan: ``[zone]``
   or ``[zone (N min), centre]``.

Whatever the windows say:

- **emergencies** (fire/smoke) and **unmatched** alarms (no window covers the category at
  this time, or no agreement) go to the centre;
- **staffed housing**: an alarm from a recipient in a staffed-housing zone goes to that
  zone's own staff first, with the centre as backup;
- **next of kin**: recipients chosen by the municipality can have chosen categories sent
  straight to their contacts by SMS; the alarm is handled only when one of them confirms
  within ``kin_confirm_seconds`` (a reply or the message's link), else — or when no message
  can be delivered — the centre takes it. Plan: ``[next of kin (300 s), centre]``;
- **technical** alarms routed away from the centre go to the municipality's technicians,
  not to the care zone;
- **system** alarms (the centre's own integrations failing, e.g. EPJ delivery) go to the
  centre, which is staffed day and night and calls the host administrator.

Time windows are Oslo wall-clock times (``starts``–``ends``, ``ends`` before ``starts``
runs past midnight and belongs to the weekday it started on). Converting ``now`` to Oslo
time with zoneinfo makes the spring and autumn DST changes come out right: 02:30 on the
autumn night happens twice and is in the night window both times.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import IntEnum, StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")

DEFAULT_BACKUP_MINUTES = 4  # Farsund pilot: no answer within 4 minutes -> the centre
DEFAULT_RESEND_SECONDS = 60
DEFAULT_KIN_CONFIRM_SECONDS = 5 * 60
# A live change: a municipality's agreement changed; rules caches drop their copy.
AGREEMENT_CHANGED = "agreement_changed"


def agreement_changed(municipality_id: int) -> dict:
    # For the rules caches (engine/routing.RulesCache), not for screens: no municipality in
    # scope and no audience, so no console or phone stream passes it on.
    return {"event": AGREEMENT_CHANGED, "municipality_id": None, "agreement_of": municipality_id, "audience": []}
EMERGENCY_CATEGORIES = frozenset({"fire"})
TECHNICAL = "technical"
SYSTEM = "system"  # the centre's own faults (an integration): always the centre's


class ServiceModel(IntEnum):
    FULL_RESPONSE = 1
    ROUTING_WITH_BACKUP = 2
    ROUTING_ONLY = 3


class Target(StrEnum):
    CENTRE = "centre"  # the response centre's queue
    ZONE = "zone"  # everyone logged in to the zone(s); first to accept gets it
    TECHNICIANS = "technicians"  # the municipality's technicians
    NEXT_OF_KIN = "next_of_kin"  # SMS to the recipient's chosen contact(s)


class Reason(StrEnum):
    SERVICE_MODEL = "service_model"
    EMERGENCY = "emergency"
    UNMATCHED = "unmatched"
    NO_ZONE = "no_zone"
    STAFFED_HOUSING = "staffed_housing"
    NEXT_OF_KIN = "next_of_kin"
    TECHNICAL = "technical"
    SYSTEM = "system"


@dataclass(frozen=True)
class Window:
    """Part of an agreement: a service model for some categories at some hours."""

    service_model: ServiceModel
    starts: time
    ends: time  # == starts: the whole day; < starts: runs past midnight
    categories: frozenset[str]
    weekdays: str = "1234567"  # ISO weekdays (1 = Monday) on which the window *starts*
    escalation_minutes: int | None = None  # model 2: backup time; model 3: last resort
    device_kinds: frozenset[str] | None = None  # only alarms from these device kinds; None: any

    def applies_to(self, category: str, device_kind: str | None) -> bool:
        return category in self.categories and (self.device_kinds is None or device_kind in self.device_kinds)

    def covers(self, local: datetime) -> bool:
        """Is the Oslo wall-clock moment ``local`` inside this window?"""
        t = local.time().replace(tzinfo=None)
        today, yesterday = str(local.isoweekday()), str((local - timedelta(days=1)).isoweekday())
        if self.starts == self.ends:
            return today in self.weekdays
        if self.starts < self.ends:
            return today in self.weekdays and self.starts <= t < self.ends
        # Past midnight: the evening part belongs to today, the morning part to yesterday.
        return (t >= self.starts and today in self.weekdays) or (t < self.ends and yesterday in self.weekdays)


@dataclass(frozen=True)
class AgreementRules:
    windows: tuple[Window, ...]
    resend_seconds: int = DEFAULT_RESEND_SECONDS
    staffed_housing_zones: frozenset[int] = frozenset()
    # recipient id -> categories that go straight to next of kin
    next_of_kin: dict[int, frozenset[str]] = field(default_factory=dict)
    # How long next of kin have to confirm that they go before the alarm moves on (the
    # agreement's ``kin_confirm_minutes``; docs/messages.md).
    kin_confirm_seconds: int = DEFAULT_KIN_CONFIRM_SECONDS


class AlarmFacts(NamedTuple):  # immutable, and one per alarm routed (as intake's frames)
    category: str
    recipient_id: int | None
    zone_id: int | None
    device_kind: str | None = None


@dataclass(frozen=True)
class Step:
    target: Target
    seconds: int | None = None  # how long this step has before the next; None: until done
    resend_seconds: int | None = None  # offer again this often while nobody accepts
    zone_id: int | None = None

    def to_json(self) -> dict:
        return {"target": self.target.value, "seconds": self.seconds, "resend_seconds": self.resend_seconds,
                "zone_id": self.zone_id}

    @staticmethod
    def from_json(data: dict) -> "Step":
        return Step(Target(data["target"]), data.get("seconds"), data.get("resend_seconds"), data.get("zone_id"))


@dataclass(frozen=True)
class RoutingPlan:
    steps: tuple[Step, ...]
    reason: Reason
    service_model: ServiceModel | None = None

    @property
    def first(self) -> Step:
        return self.steps[0]

    def to_json(self) -> dict:
        return {"steps": [s.to_json() for s in self.steps], "reason": self.reason.value,
                "service_model": int(self.service_model) if self.service_model else None}

    @staticmethod
    def from_json(data: dict) -> "RoutingPlan":
        model = data.get("service_model")
        return RoutingPlan(tuple(Step.from_json(s) for s in data["steps"]), Reason(data["reason"]),
                           ServiceModel(model) if model else None)


CENTRE_ONLY = (Step(Target.CENTRE),)


def window_at(rules: AgreementRules, category: str, now: datetime, device_kind: str | None = None) -> Window | None:
    """The first window that covers ``category`` (from ``device_kind``) at ``now`` (Oslo time)."""
    local = now.astimezone(OSLO)
    for window in rules.windows:
        if window.applies_to(category, device_kind) and window.covers(local):
            return window
    return None


# The plans that need no agreement, made once (a plan is immutable): most alarms get one.
_CENTRE_ONLY_FOR = {reason: RoutingPlan(CENTRE_ONLY, reason) for reason in (Reason.EMERGENCY, Reason.SYSTEM,
                                                                             Reason.UNMATCHED)}


def plan_route(alarm: AlarmFacts, rules: AgreementRules | None, now: datetime) -> RoutingPlan:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if alarm.category in EMERGENCY_CATEGORIES:
        return _CENTRE_ONLY_FOR[Reason.EMERGENCY]
    if alarm.category == SYSTEM:
        return _CENTRE_ONLY_FOR[Reason.SYSTEM]
    if rules is None:
        return _CENTRE_ONLY_FOR[Reason.UNMATCHED]

    kin_categories = rules.next_of_kin.get(alarm.recipient_id, frozenset()) if alarm.recipient_id else frozenset()
    if alarm.category in kin_categories:
        # Handled only when one of them confirms within the time; else the centre.
        return RoutingPlan((Step(Target.NEXT_OF_KIN, seconds=rules.kin_confirm_seconds), Step(Target.CENTRE)),
                           Reason.NEXT_OF_KIN)

    window = window_at(rules, alarm.category, now, alarm.device_kind)
    if alarm.zone_id is not None and alarm.zone_id in rules.staffed_housing_zones and alarm.category != TECHNICAL:
        backup = 60 * ((window.escalation_minutes if window else None) or DEFAULT_BACKUP_MINUTES)
        return RoutingPlan((Step(Target.ZONE, backup, rules.resend_seconds, alarm.zone_id), Step(Target.CENTRE)),
                           Reason.STAFFED_HOUSING, window.service_model if window else None)
    if window is None:
        return RoutingPlan(CENTRE_ONLY, Reason.UNMATCHED)
    if window.service_model is ServiceModel.FULL_RESPONSE:
        return RoutingPlan(CENTRE_ONLY, Reason.SERVICE_MODEL, window.service_model)

    if alarm.category == TECHNICAL:
        first = Step(Target.TECHNICIANS, None, rules.resend_seconds)
        reason = Reason.TECHNICAL
    elif alarm.zone_id is None:
        # Nobody to route to: a recipient without a zone is the centre's (and a gap in the
        # registration, which the completeness report shows).
        return RoutingPlan(CENTRE_ONLY, Reason.NO_ZONE, window.service_model)
    else:
        first = Step(Target.ZONE, None, rules.resend_seconds, alarm.zone_id)
        reason = Reason.SERVICE_MODEL

    if window.service_model is ServiceModel.ROUTING_WITH_BACKUP:
        backup = 60 * (window.escalation_minutes or DEFAULT_BACKUP_MINUTES)
        return RoutingPlan((_with_seconds(first, backup), Step(Target.CENTRE)), reason, window.service_model)
    # Routing without backup: round again until someone accepts, unless a last resort is set.
    if window.escalation_minutes:
        return RoutingPlan((_with_seconds(first, 60 * window.escalation_minutes), Step(Target.CENTRE)), reason,
                           window.service_model)
    return RoutingPlan((first,), reason, window.service_model)


def _with_seconds(step: Step, seconds: int) -> Step:
    return Step(step.target, seconds, step.resend_seconds, step.zone_id)


def oslo_date(now: datetime) -> date:
    return now.astimezone(OSLO).date()


# --- who in the field may see and act on an alarm ------------------------------------------------


def zone_tag(zone_id: int) -> str:
    return f"zone:{zone_id}"


def technicians_tag(municipality_id: int) -> str:
    return f"technicians:{municipality_id}"


def duty_tags(actor: str, zone_ids: Iterable[int], technician_in: Iterable[int]) -> frozenset[str]:
    """What a responder on duty listens for: their zones, their municipalities' technician
    duty, and themselves (alarms and missions they hold)."""
    return frozenset({actor, *(zone_tag(z) for z in zone_ids), *(technicians_tag(m) for m in technician_in)})


def audience(route: dict | None, route_step: int | None, municipality_id: int, mission: dict | None,
             holders: Iterable[str | None]) -> frozenset[str]:
    """Who in the field a change of this alarm concerns, as duty tags.

    Every zone or technician duty the plan has offered it to so far (steps up to the current
    one: they must see it leave their list when it escalates or is taken), the zone a mission
    was dispatched to, and the people who hold or held it. An alarm that went straight to the
    centre concerns nobody in the field (issue 14: responders saw the centre's queue).
    """
    tags: set[str] = {h for h in holders if h and h.startswith("user:")}
    if route:
        for step in route["steps"][: (route_step or 0) + 1]:
            if step["target"] == Target.ZONE.value and step.get("zone_id") is not None:
                tags.add(zone_tag(step["zone_id"]))
            elif step["target"] == Target.TECHNICIANS.value:
                tags.add(technicians_tag(municipality_id))
    if mission:
        if mission.get("zone_id") is not None:
            tags.add(zone_tag(mission["zone_id"]))
        if mission.get("accepted_by"):
            tags.add(mission["accepted_by"])
    return frozenset(tags)


def offered_to(route: dict | None, route_step: int | None, state: str, municipality_id: int,
               tags: frozenset[str]) -> bool:
    """Is the alarm on offer right now to someone on duty with these tags?"""
    if state != "offered" or not route:
        return False
    step = route["steps"][route_step or 0]
    if step["target"] == Target.ZONE.value:
        return step.get("zone_id") is not None and zone_tag(step["zone_id"]) in tags
    return step["target"] == Target.TECHNICIANS.value and technicians_tag(municipality_id) in tags


def mission_open_to(mission: dict | None, tags: frozenset[str]) -> bool:
    """A mission the centre dispatched that nobody has taken yet, to one of these zones."""
    return bool(mission) and not mission.get("accepted_by") and not mission.get("done_at") and \
        mission.get("zone_id") is not None and zone_tag(mission["zone_id"]) in tags


# The open states, as stored (domain/lifecycle.OPEN_STATES; kept here as strings so this
# module stays free of the lifecycle's types).
_OPEN = frozenset({"received", "queued", "offered", "answered", "resolved"})


def taken_by(*, answered_by: str | None, mission: dict | None, actor: str) -> bool:
    """Has the responder taken the alarm, or the centre's mission for it (not yet done)? What
    the app's call button needs: an offer not yet accepted is in hand but not taken."""
    return answered_by == actor or bool(mission and mission.get("accepted_by") == actor and not mission.get("done_at"))


def in_hand(*, route: dict | None, route_step: int | None, state: str, municipality_id: int, mission: dict | None,
            answered_by: str | None, group_id: str | None, tags: frozenset[str], actor: str) -> bool:
    """Is the open alarm a responder's to see and work on *now*: on offer to their duty, held
    by them, or a mission the centre dispatched to their zone (open) or that they accepted
    (not done)? Narrower than ``audience``, which also keeps past offers so a phone sees an
    alarm leave its list: having once been offered an alarm gives no access to it."""
    if state not in _OPEN or group_id is not None:
        return False
    if answered_by == actor or offered_to(route, route_step, state, municipality_id, tags):
        return True
    if mission and not mission.get("done_at"):
        return mission.get("accepted_by") == actor or mission_open_to(mission, tags)
    return False
