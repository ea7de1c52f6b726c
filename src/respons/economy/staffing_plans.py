"""The staffing planner's inputs from what the centre measured: alarms that reached its queue
per Oslo hour of day over the last days, and how long an operator spends on one (answer to
outcome); then the domain's Erlang C plan (economy/staffing.py, docs/staffing.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from respons.domain.alarm_types import NOT_A_SERVICE
from respons.economy import staffing
from respons.economy.pricing import InvoicePeriod
from respons.economy import store as economy
from respons.statistics.store import centre_load_by_hour
from respons.store.tables import alarms, service_periods

# Without measured handling times (a new centre) the planner assumes three minutes a call.
ASSUMED_HANDLING_SECONDS = 180.0


@dataclass(frozen=True)
class Measured:
    days: int
    alarms: int
    arrivals_by_hour: dict[int, float]  # average alarms in each Oslo hour of a day
    handling_seconds: float
    handling_measured: bool


def measured(conn: Connection, *, now: datetime, days: int) -> Measured:
    by_hour, handling = centre_load_by_hour(conn, start=now - timedelta(days=days), end=now)
    return Measured(days=days, alarms=sum(by_hour.values()),
                    arrivals_by_hour={hour: n / days for hour, n in by_hour.items()},
                    handling_seconds=handling if handling else ASSUMED_HANDLING_SECONDS,
                    handling_measured=bool(handling))


def plan(measured: Measured, *, target_share: float, target_seconds: float, minimum: int) -> staffing.StaffingPlan:
    return staffing.plan(measured.arrivals_by_hour, measured.handling_seconds, target_share=target_share,
                         target_seconds=target_seconds, minimum=minimum)


def measured_volumes(conn: Connection, *, year: int) -> tuple[int, int]:
    """Units (recipients with the service on the year's last day, or today for this year) and
    alarms received in the year (Oslo), for the cost per unit and per alarm."""
    start, end = economy.period_instants(InvoicePeriod(date(year, 1, 1), 12))
    on = date(year, 12, 31)
    units = conn.execute(select(func.count(func.distinct(service_periods.c.recipient_id))).where(
        service_periods.c.starts_on <= on, or_(service_periods.c.ends_on.is_(None), service_periods.c.ends_on > on))
    ).scalar_one()
    # As the statistics count them: a storm's group alarm and the centre's own system alarms
    # are not alarms received (domain/alarm_types.NOT_A_SERVICE).
    received = conn.execute(select(func.count()).select_from(alarms).where(
        alarms.c.received_at >= start, alarms.c.received_at < end, alarms.c.source.not_in(NOT_A_SERVICE))).scalar_one()
    return units, received
