"""Messages per municipality, period and channel: sent, delivered, failed, expired, the time
from queued to delivered and, for next-of-kin requests, to a confirmation. Pure
(docs/statistics.md, docs/messages.md). The facts come from the outbox
(``messages/store.figure_rows``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from statistics import median as _median
from typing import Iterable


@dataclass(frozen=True)
class MessageFact:
    channel: str  # sms | push
    purpose: str  # kin_request | offer
    state: str
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    confirmed_at: datetime | None


@dataclass(frozen=True)
class Channel:
    queued: int = 0
    sent: int = 0  # handed to the provider (delivered ones included)
    delivered: int = 0
    failed: int = 0
    expired: int = 0
    confirmed: int = 0  # next-of-kin requests answered "yes" (a reply or the link)
    median_seconds_to_delivery: float | None = None
    median_seconds_to_confirmation: float | None = None

    @property
    def share_delivered(self) -> float | None:
        return round(self.delivered / self.sent, 3) if self.sent else None


def by_channel(facts: Iterable[MessageFact]) -> dict[str, Channel]:
    grouped: dict[str, list[MessageFact]] = {}
    for fact in facts:
        grouped.setdefault(fact.channel, []).append(fact)
    return {channel: _channel(items) for channel, items in sorted(grouped.items())}


def _channel(facts: list[MessageFact]) -> Channel:
    to_delivery = [(f.delivered_at - f.created_at).total_seconds() for f in facts if f.delivered_at]
    to_confirmation = [(f.confirmed_at - f.created_at).total_seconds() for f in facts if f.confirmed_at]
    return Channel(
        queued=len(facts),
        sent=sum(1 for f in facts if f.sent_at is not None),
        delivered=sum(1 for f in facts if f.state == "delivered"),
        failed=sum(1 for f in facts if f.state == "failed"),
        expired=sum(1 for f in facts if f.state == "expired"),
        confirmed=sum(1 for f in facts if f.confirmed_at is not None),
        median_seconds_to_delivery=_rounded(median(to_delivery)),
        median_seconds_to_confirmation=_rounded(median(to_confirmation)),
    )


def median(values: list[float]) -> float | None:
    return _median(values) if values else None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
