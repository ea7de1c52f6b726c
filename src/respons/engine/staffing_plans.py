"""The staffing planner's inputs from what the centre measured: alarms that reached its queue
per Oslo hour of day over the last days, and how long an operator spends on one (answer to
outcome); then the domain's Erlang C plan (domain/staffing.py, docs/staffing.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from respons.domain import staffing
from respons.store.statistics import centre_load_by_hour

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
