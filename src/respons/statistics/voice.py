"""Calls through the gateway per municipality and period: how many, how many reached the
person, and how long the centre talked, per alarm that had calls. Pure (docs/statistics.md,
docs/voice.md). The facts come from the voice calls (``voice/store.call_facts``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable


@dataclass(frozen=True)
class CallFact:
    alarm_id: str | None
    state: str  # ringing, answered, ended, failed, lost
    answered_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True)
class Calls:
    calls: int = 0
    answered: int = 0  # reached the person (ended or lost after an answer)
    failed: int = 0  # busy, no answer, rejected, unreachable, cancelled
    lost: int = 0  # dropped after the answer
    alarms_with_calls: int = 0
    talk_seconds: int = 0

    @property
    def calls_per_alarm(self) -> float | None:
        return round(self.calls / self.alarms_with_calls, 2) if self.alarms_with_calls else None

    @property
    def talk_seconds_per_alarm(self) -> float | None:
        return round(self.talk_seconds / self.alarms_with_calls, 1) if self.alarms_with_calls else None


def calls(facts: Iterable[CallFact]) -> Calls:
    counts = dict.fromkeys(("calls", "answered", "failed", "lost", "talk_seconds"), 0)
    alarms = set()
    for fact in facts:
        counts["calls"] += 1
        if fact.alarm_id is not None:
            alarms.add(fact.alarm_id)
        if fact.answered_at is not None:
            counts["answered"] += 1
            if fact.ended_at is not None:
                counts["talk_seconds"] += max(0, round((fact.ended_at - fact.answered_at).total_seconds()))
        if fact.state == "failed":
            counts["failed"] += 1
        elif fact.state == "lost":
            counts["lost"] += 1
    return Calls(**counts, alarms_with_calls=len(alarms))
