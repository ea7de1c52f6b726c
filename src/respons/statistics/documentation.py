"""Documentation completeness: did the closed alarms reach the patient record (EPJ)? Pure.

Of the alarms of a municipality and period that belong in a patient record (closed, with a
recipient) — how many were delivered to the EPJ within ``TARGET`` of being closed, later, not
yet, refused by the EPJ, or not documented because Respons could not build or validate the
document (docs/statistics.md, docs/epj.md). The facts come from the EPJ outbox
(``epj/outbox.documentation_facts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

TARGET = timedelta(minutes=5)


@dataclass(frozen=True)
class DocumentFact:
    """One closed alarm: when it was closed, when its record first reached the EPJ (any
    version), and how its newest document stands (None: no document was made)."""

    closed_at: datetime
    first_delivered_at: datetime | None
    newest_state: str | None
    failed_attempts: bool  # the newest, not delivered, has had a failed try


@dataclass(frozen=True)
class Documentation:
    closed: int = 0
    delivered_within_target: int = 0
    delivered_later: int = 0
    refused: int = 0
    failing: int = 0  # waiting after a failed try: the EPJ does not answer
    waiting: int = 0  # not sent yet, nothing has gone wrong
    not_documented: int = 0

    @property
    def share_within_target(self) -> float | None:
        return self.delivered_within_target / self.closed if self.closed else None


def documentation(facts: Iterable[DocumentFact]) -> Documentation:
    counts = dict.fromkeys(("closed", "delivered_within_target", "delivered_later", "refused", "failing", "waiting",
                            "not_documented"), 0)
    for fact in facts:
        counts["closed"] += 1
        if fact.first_delivered_at is not None:
            within = fact.first_delivered_at - fact.closed_at <= TARGET
            counts["delivered_within_target" if within else "delivered_later"] += 1
        elif fact.newest_state == "refused":
            counts["refused"] += 1
        elif fact.newest_state == "not_documented" or fact.newest_state is None:
            counts["not_documented"] += 1
        elif fact.failed_attempts:
            counts["failing"] += 1
        else:
            counts["waiting"] += 1
    return Documentation(**counts)
