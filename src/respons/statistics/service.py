"""Statistics reads as units the web and the CLI share: check the scope, write the audit
record (committed before anything is shown, as for every read of the register), read the
facts of one Oslo period, and compute the figures."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Hashable

from sqlalchemy import select
from sqlalchemy.engine import Connection

from respons.auth import audit
from respons.epj import outbox
from respons.statistics.documentation import DocumentFact, Documentation, documentation as documentation_of
from respons.digital_supervision import store as supervision_store
from respons.statistics.supervision import LookinFact, Supervision, supervision as supervision_of
from respons.statistics.voice import CallFact, Calls, calls as calls_of
from respons.statistics.messages import Channel, MessageFact, by_channel
from respons.messages import store as message_store
from respons.voice import store as voice_store
from respons.statistics.rules import OSLO, AlarmFact, KeyFigures, Period, period_bounds, period_of
from respons.statistics.store import Grouping, alarm_facts, key_figures_by
from respons.store.tables import municipalities, zones

PURPOSE = "statistics"


@dataclass(frozen=True)
class PeriodRequest:
    municipality_id: int
    period: Period
    first_day: date

    @classmethod
    def containing(cls, municipality_id: int, period: Period, day: date) -> "PeriodRequest":
        return cls(municipality_id, period, period_of(datetime(day.year, day.month, day.day, 12, tzinfo=OSLO), period))

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return period_bounds(self.first_day, self.period)


def record_export(conn: Connection, request: PeriodRequest, *, actor: str, what: str, now: datetime) -> None:
    audit.append(conn, now=now, actor=actor, action=audit.EXPORT, municipality_id=request.municipality_id,
                 purpose=PURPOSE, details={"report": what, "period": request.period.value,
                                           "from": request.first_day.isoformat()})


def facts(conn: Connection, request: PeriodRequest) -> list[AlarmFact]:
    start, end = request.bounds
    return alarm_facts(conn, municipality_ids=frozenset({request.municipality_id}), start=start, end=end)


def figures(conn: Connection, request: PeriodRequest, *, now: datetime, minutes_per_cleared_alarm: float) -> KeyFigures:
    start, end = request.bounds
    return key_figures_by(conn, municipality_ids=frozenset({request.municipality_id}), start=start, end=end, now=now,
                          minutes_per_cleared_alarm=minutes_per_cleared_alarm)[None]


def documentation(conn: Connection, request: PeriodRequest) -> Documentation:
    """How the period's closed alarms reached the patient record (the EPJ outbox's facts)."""
    start, end = request.bounds
    rows = outbox.documentation_rows(conn, municipality_id=request.municipality_id, start=start, end=end)
    return documentation_of(DocumentFact(closed, first, state, bool(attempts)) for closed, first, state, attempts in rows)


def voice_calls(conn: Connection, request: PeriodRequest) -> Calls:
    """The period's calls through the gateway: count, answered, talk time per alarm."""
    start, end = request.bounds
    return calls_of(CallFact(*row) for row in voice_store.call_facts(conn, municipality_id=request.municipality_id,
                                                                     start=start, end=end))


def supervision(conn: Connection, request: PeriodRequest, *, now: datetime, minutes_per_visit: float) -> Supervision:
    """The period's look-ins due so far (digital supervision): planned, on time, late, missed,
    rechecks, escalations, and the home visits they replaced."""
    start, end = request.bounds
    return supervision_of((LookinFact(*row) for row in supervision_store.lookin_facts(
        conn, municipality_id=request.municipality_id, start=start, end=min(end, now))),
        minutes_per_visit=minutes_per_visit)


def messages(conn: Connection, request: PeriodRequest) -> dict[str, Channel]:
    """The period's messages by channel: sent, delivered, failed, expired, time to delivery and
    to confirmation (docs/messages.md, "Figures")."""
    start, end = request.bounds
    return by_channel(MessageFact(*row) for row in message_store.figure_rows(
        conn, municipality_id=request.municipality_id, start=start, end=end))


def breakdown(conn: Connection, request: PeriodRequest, by: Grouping, *, now: datetime,
              minutes_per_cleared_alarm: float) -> dict[Hashable, KeyFigures]:
    """The figures of the request's period split by zone, category or shorter periods."""
    start, end = request.bounds
    return key_figures_by(conn, municipality_ids=frozenset({request.municipality_id}), start=start, end=end, now=now,
                          by=by, minutes_per_cleared_alarm=minutes_per_cleared_alarm)


def zone_names(conn: Connection, municipality_id: int) -> dict[int, str]:
    rows = conn.execute(select(zones.c.id, zones.c.name).where(zones.c.municipality_id == municipality_id)
                        .order_by(zones.c.name))
    return {r.id: r.name for r in rows}


def municipality_names(conn: Connection, ids: frozenset[int]) -> dict[int, tuple[str, str]]:
    rows = conn.execute(select(municipalities.c.id, municipalities.c.number, municipalities.c.name)
                        .where(municipalities.c.id.in_(sorted(ids))).order_by(municipalities.c.name))
    return {r.id: (r.number, r.name) for r in rows}


def all_municipality_names(conn: Connection) -> dict[int, tuple[str, str]]:
    """Every municipality, as ``municipality_names`` gives them (a form that offers them all)."""
    rows = conn.execute(select(municipalities.c.id, municipalities.c.number, municipalities.c.name)
                        .order_by(municipalities.c.name))
    return {r.id: (r.number, r.name) for r in rows}


# The CSV for Power BI and spreadsheets: one row per alarm. The column names are a contract
# (docs/statistics.md): add new ones at the end, never rename. No names or national ids.
CSV_COLUMNS = (
    "alarm_id", "municipality_number", "zone_id", "type", "category", "received_at_utc", "received_at_oslo",
    "queued_at_utc", "answered_at_utc", "answer_seconds", "answered_within_60s", "answered_by_centre", "outcome",
    "routed_direct", "escalated", "home_care_asked_at_utc", "home_care_accepted_at_utc", "arrived_at_utc",
    "missing_response", "answered_by",
)


def fact_values(f: AlarmFact, municipality_number: str) -> list:
    """One alarm's values in ``CSV_COLUMNS`` order, typed (aware datetimes, bools, numbers,
    None for *does not apply*); the CSV and the XLSX each write them in their own way."""
    answer = f.answer_seconds
    return [
        f.alarm_id, municipality_number, f.zone_id, f.type, f.category, f.received_at,
        f.received_at.astimezone(OSLO).strftime("%Y-%m-%dT%H:%M:%S%z"), f.queued_at, f.answered_at, answer,
        None if answer is None else answer <= 60, f.answered_by_centre, f.outcome, f.routed_direct, f.escalated,
        f.home_care_asked_at, f.mission_accepted_at, f.arrived_at, f.missing_response, answered_by(f),
    ]


def answered_by(f: AlarmFact) -> str | None:
    """Who gave the standing answer: ``centre``, ``home_care`` or None (nobody, or the routing
    on next of kin's behalf)."""
    return "centre" if f.answered_by_centre else "home_care" if f.answered_by_home_care else None


def facts_csv(rows: list[AlarmFact], municipality_number: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for f in rows:
        writer.writerow([_csv_text(v) for v in fact_values(f, municipality_number)])
    return out.getvalue()


def _csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)
