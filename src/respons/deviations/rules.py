"""Deviation reports (avviksmeldinger): something went wrong, or nearly did, and the
collaboration wants to learn from it (DOMAIN.md: committees review deviations yearly).

A deviation is registered by a person (from an alarm, or free-standing: a technical failure,
a breach of the cooperation agreement), or *proposed* by the system (a missing response from
home care, an answer time over the threshold) for a person to confirm or dismiss. It is then
assigned, handled with actions, and closed with a conclusion. Like alarms, a deviation is its
timeline: ``apply`` is the only way its state changes.

    proposed ──confirm──▶ registered ──assign──▶ in_progress ──close──▶ closed
        └──dismiss──▶ dismissed          └──────────close (with a conclusion)──┘
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any


class DeviationCategory(StrEnum):
    MISSING_RESPONSE = "missing_response"  # home care did not accept or finish in time
    ANSWER_TIME = "answer_time"  # the centre answered late
    TECHNICAL_FAILURE = "technical_failure"  # equipment, network, platform
    COOPERATION = "cooperation"  # a breach of the agreement between municipalities
    ROUTING = "routing"  # an alarm went to the wrong place
    DOCUMENTATION = "documentation"  # missing or wrong records
    OTHER = "other"


class Severity(StrEnum):
    LOW = "low"  # no consequence for the recipient
    MEDIUM = "medium"  # could have had consequences
    HIGH = "high"  # had consequences, or nearly serious harm


class DeviationState(StrEnum):
    PROPOSED = "proposed"
    REGISTERED = "registered"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    DISMISSED = "dismissed"


OPEN = frozenset({DeviationState.PROPOSED, DeviationState.REGISTERED, DeviationState.IN_PROGRESS})


class DeviationEventKind(StrEnum):
    PROPOSED = "proposed"  # by the system, from an alarm
    REGISTERED = "registered"  # by a person (new, or confirming a proposal)
    DISMISSED = "dismissed"  # a proposal that was not a deviation after all
    ASSIGNED = "assigned"
    ACTION = "action"  # what was done about it
    CLOSED = "closed"


# The columns' lengths (deviations.title, .assigned_to): the pages' forms send whatever is
# typed, and PostgreSQL refuses a longer value with an error, not a refusal.
TITLE_MAX = 200
ASSIGNEE_MAX = 100


class IllegalDeviationChange(ValueError):
    """A refused change. ``key`` names the reason for the screens, which say it in the
    reader's language (``dev.error.<key>``); the message is the API's, in English."""

    def __init__(self, message: str, key: str = "not_now"):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class DeviationEvent:
    kind: DeviationEventKind
    at: datetime
    actor: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Deviation:
    state: DeviationState
    seq: int
    category: DeviationCategory
    severity: Severity
    title: str
    created_at: datetime
    assigned_to: str | None = None
    closed_at: datetime | None = None
    conclusion: str | None = None


_FROM: dict[DeviationEventKind, frozenset[DeviationState]] = {
    DeviationEventKind.REGISTERED: frozenset({DeviationState.PROPOSED}),
    DeviationEventKind.DISMISSED: frozenset({DeviationState.PROPOSED}),
    DeviationEventKind.ASSIGNED: frozenset({DeviationState.REGISTERED, DeviationState.IN_PROGRESS}),
    DeviationEventKind.ACTION: frozenset({DeviationState.REGISTERED, DeviationState.IN_PROGRESS}),
    DeviationEventKind.CLOSED: frozenset({DeviationState.REGISTERED, DeviationState.IN_PROGRESS}),
}

_WHY = {
    DeviationEventKind.REGISTERED: "only a proposed deviation can be confirmed",
    DeviationEventKind.DISMISSED: "only a proposed deviation can be dismissed",
    DeviationEventKind.ASSIGNED: "confirm the deviation before assigning it; a finished one cannot be",
    DeviationEventKind.ACTION: "confirm the deviation first; a finished one cannot be changed",
    DeviationEventKind.CLOSED: "confirm the deviation first; it is already finished",
}


def start(event: DeviationEvent) -> Deviation:
    """A new deviation from its first event: registered by a person or proposed by the system."""
    if event.kind not in (DeviationEventKind.REGISTERED, DeviationEventKind.PROPOSED):
        raise IllegalDeviationChange("A deviation starts by being registered or proposed.")
    title = str(event.data.get("title", "")).strip()
    if not title:
        raise IllegalDeviationChange("A deviation needs a short title.", "title_missing")
    if len(title) > TITLE_MAX:
        raise IllegalDeviationChange(f"A deviation's title is at most {TITLE_MAX} characters.", "too_long")
    try:
        category = DeviationCategory(event.data.get("category"))
        severity = Severity(event.data.get("severity", Severity.MEDIUM.value))
    except ValueError as exc:
        raise IllegalDeviationChange(str(exc), "invalid_value") from None
    state = DeviationState.PROPOSED if event.kind is DeviationEventKind.PROPOSED else DeviationState.REGISTERED
    return Deviation(state, 1, category, severity, title, event.at)


def apply(deviation: Deviation, event: DeviationEvent) -> Deviation:
    if event.kind not in _FROM or deviation.state not in _FROM[event.kind]:
        hint = _WHY.get(event.kind, "a deviation starts only once")
        raise IllegalDeviationChange(f"Cannot {event.kind.value}: the deviation is {deviation.state.value}; {hint}.")
    seq = deviation.seq + 1
    match event.kind:
        case DeviationEventKind.REGISTERED:
            # Confirming a proposal may correct its severity.
            try:
                severity = Severity(event.data.get("severity", deviation.severity.value))
            except ValueError as exc:
                raise IllegalDeviationChange(str(exc), "invalid_value") from None
            return replace(deviation, seq=seq, state=DeviationState.REGISTERED, severity=severity)
        case DeviationEventKind.DISMISSED:
            return replace(deviation, seq=seq, state=DeviationState.DISMISSED, closed_at=event.at,
                           conclusion=str(event.data.get("reason", "")).strip() or None)
        case DeviationEventKind.ASSIGNED:
            to = str(event.data.get("to", "")).strip()
            if not to:
                raise IllegalDeviationChange("Say who handles the deviation.", "assignee_missing")
            if len(to) > ASSIGNEE_MAX:
                raise IllegalDeviationChange(f"Who handles it is at most {ASSIGNEE_MAX} characters.", "too_long")
            return replace(deviation, seq=seq, state=DeviationState.IN_PROGRESS, assigned_to=to)
        case DeviationEventKind.ACTION:
            if not str(event.data.get("text", "")).strip():
                raise IllegalDeviationChange("Describe what was done.", "action_missing")
            return replace(deviation, seq=seq)
        case DeviationEventKind.CLOSED:
            conclusion = str(event.data.get("conclusion", "")).strip()
            if not conclusion:
                raise IllegalDeviationChange("A deviation is closed with a conclusion: what was learned or changed.",
                                             "conclusion_missing")
            return replace(deviation, seq=seq, state=DeviationState.CLOSED, closed_at=event.at, conclusion=conclusion)
    raise AssertionError(event.kind)  # pragma: no cover


def fold(events: list[DeviationEvent]) -> Deviation:
    deviation = start(events[0])
    for event in events[1:]:
        deviation = apply(deviation, event)
    return deviation


@dataclass(frozen=True)
class YearSummary:
    total: int
    by_category: dict[str, int]
    by_severity: dict[str, int]
    by_state: dict[str, int]
    proposed_by_system: int
    dismissed: int


def summarise(deviations: list[tuple[Deviation, bool]]) -> YearSummary:
    """Counts for the collaboration committee. ``(deviation, proposed_by_system)`` pairs;
    dismissed proposals are counted apart, not as deviations."""
    counted = [(d, system) for d, system in deviations if d.state is not DeviationState.DISMISSED]

    def count(key) -> dict[str, int]:
        out: dict[str, int] = {}
        for d, _ in counted:
            out[key(d)] = out.get(key(d), 0) + 1
        return out

    return YearSummary(
        total=len(counted), by_category=count(lambda d: d.category.value), by_severity=count(lambda d: d.severity.value),
        by_state=count(lambda d: d.state.value), proposed_by_system=sum(system for _, system in counted),
        dismissed=len(deviations) - len(counted),
    )
