"""Digital supervision per municipality and period: look-ins planned, done on time, done late,
missed, looked for again, after alarms, escalated, and the home visits they replaced. Pure
(docs/statistics.md, docs/supervision.md). The facts come from the look-ins
(``digital_supervision/store.lookin_facts``).

Hours saved: each planned look-in (or look again) that found the person well replaced a visit
by the night patrol; ``minutes_per_visit`` (RESPONS_SUPERVISION_VISIT_MINUTES, 30 by default:
the drive there and back and the visit) is the stated assumption, as the minutes per cleared
alarm are for the alarms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from respons.statistics.rules import hours_saved


@dataclass(frozen=True)
class LookinFact:
    reason: str  # planned, recheck, fallback, event
    state: str  # due, started, done, missed (cancelled ones are not facts)
    late: bool  # not started by its late mark (the round list warned)
    outcome: str | None
    escalated: bool  # an alarm was raised from it


@dataclass(frozen=True)
class Supervision:
    planned: int = 0
    done: int = 0  # every look-in with a recorded outcome (what a per-supervision price bills)
    on_time: int = 0  # done, started before its late mark
    late: int = 0  # done, started after its late mark
    missed: int = 0  # its window closed unstarted (an alarm was raised)
    rechecks: int = 0  # looked for again after "not seen"
    after_alarms: int = 0  # event-based
    escalations: int = 0  # alarms raised: needs help, not seen twice, missed, camera unavailable
    visits_replaced: int = 0
    hours_saved: float = 0.0

    @property
    def share_on_time(self) -> float | None:
        due = self.on_time + self.late + self.missed
        return round(self.on_time / due, 3) if due else None


def supervision(facts: Iterable[LookinFact], *, minutes_per_visit: float) -> Supervision:
    counts = dict.fromkeys(("planned", "done", "on_time", "late", "missed", "rechecks", "after_alarms", "escalations",
                            "visits_replaced"), 0)
    for fact in facts:
        counts["planned"] += fact.reason == "planned"
        counts["rechecks"] += fact.reason == "recheck"
        counts["after_alarms"] += fact.reason == "event"
        counts["escalations"] += fact.escalated
        if fact.state == "missed":
            counts["missed"] += 1
        elif fact.state == "done":
            counts["done"] += 1
            counts["late" if fact.late else "on_time"] += 1
            counts["visits_replaced"] += fact.reason in ("planned", "recheck") and fact.outcome == "seen_well"
    return Supervision(**counts, hours_saved=hours_saved(counts["visits_replaced"], minutes_per_visit))
