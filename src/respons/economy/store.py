"""What an invoice run counts, read from the register and the alarm rows.

Active users are counted day by day from ``service_periods`` (one row per stretch of
service), events from the ``alarms`` rows received in the period's Oslo bounds. Both are
read once for all municipalities of a run and split up in Python: a run for 50
municipalities and 120,000 recipients is one pass over each table, not one per municipality.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Iterable

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from respons.economy.pricing import Budget, Deflators, InvoicePeriod, PriceModel, PriceModelError, model_from_data
from respons.statistics.rules import OSLO
from respons.domain.alarm_types import NOT_A_SERVICE
from respons.store.tables import (
    agreements,
    alarms,
    budgets,
    centres,
    deflators,
    devices,
    municipalities,
    price_models,
    recipients,
    service_periods,
    supervision_lookins,
)

UserFilter = frozenset[str] | None


def centre_ids(conn: Connection) -> list[int]:
    return list(conn.execute(select(centres.c.id)).scalars())


@dataclass(frozen=True)
class ModelInForce:
    price_model_id: int
    municipality_id: int
    model: PriceModel


def models_in_force(conn: Connection, centre_id: int, period: InvoicePeriod) -> list[ModelInForce]:
    """Each municipality's price model for the period: the agreement with the centre that
    runs in the period and its model valid on the period's first day. A model that starts or
    ends inside the period is refused (invoice the months on each side separately)."""
    rows = conn.execute(
        select(price_models.c.id, price_models.c.valid_from, price_models.c.valid_to, price_models.c.base_year,
               price_models.c.components, agreements.c.municipality_id, municipalities.c.name)
        .join(agreements, agreements.c.id == price_models.c.agreement_id)
        .join(municipalities, municipalities.c.id == agreements.c.municipality_id)
        .where(agreements.c.centre_id == centre_id, agreements.c.valid_from < period.end,
               or_(agreements.c.valid_to.is_(None), agreements.c.valid_to > period.first),
               price_models.c.valid_from < period.end,
               or_(price_models.c.valid_to.is_(None), price_models.c.valid_to > period.first))
        .order_by(agreements.c.municipality_id, price_models.c.valid_from)
    ).all()
    found: dict[int, ModelInForce] = {}
    for r in rows:
        starts_inside = period.first < r.valid_from < period.end
        ends_inside = r.valid_to is not None and period.first < r.valid_to < period.end
        if starts_inside or ends_inside:
            raise PriceModelError(f"Prismodellen for {r.name} endres i perioden ({r.valid_from:%d.%m.%Y}"
                                  f"{f' – {r.valid_to:%d.%m.%Y}' if r.valid_to else ''}); fakturer månedene før og "
                                  f"etter endringen hver for seg.")
        if r.municipality_id in found:
            raise PriceModelError(f"{r.name} har to prismodeller som gjelder samtidig.")
        found[r.municipality_id] = ModelInForce(r.id, r.municipality_id, model_from_data(r.components, r.base_year))
    return list(found.values())


def populations(conn: Connection, municipality_ids: Iterable[int]) -> dict[int, int]:
    rows = conn.execute(select(municipalities.c.id, municipalities.c.population)
                        .where(municipalities.c.id.in_(sorted(municipality_ids))))
    return {r.id: r.population for r in rows}


def year_budgets(conn: Connection, centre_id: int, year: int) -> dict[str, Budget]:
    rows = conn.execute(select(budgets).where(budgets.c.centre_id == centre_id, budgets.c.year == year))
    return {r.name: Budget(r.name, r.year, Decimal(r.amount_ore) / 100, Decimal(r.fixed_share)) for r in rows}


def deflator_table(conn: Connection) -> Deflators:
    return Deflators({r.year: Decimal(r.rate) for r in conn.execute(select(deflators))})


@dataclass(frozen=True)
class ActiveDays:
    """Active user-days of one municipality and user filter: per month, and per recipient."""

    by_month: dict[date, int]
    by_recipient: dict[int, int]


def active_days(conn: Connection, municipality_ids: Iterable[int], period: InvoicePeriod,
                filters: Iterable[UserFilter]) -> dict[tuple[int, UserFilter], ActiveDays]:
    """Active user-days in the period for each municipality and filter: the days of each
    recipient's service periods inside each month ([starts_on, ends_on), Oslo dates). A filter
    of device kinds keeps recipients who have a device of those kinds registered (the
    register keeps no device history; docs/economy.md)."""
    ids = sorted(municipality_ids)
    rows = conn.execute(
        select(service_periods.c.recipient_id, recipients.c.municipality_id, service_periods.c.starts_on,
               service_periods.c.ends_on)
        .join(recipients, recipients.c.id == service_periods.c.recipient_id)
        .where(recipients.c.municipality_id.in_(ids), service_periods.c.starts_on < period.end,
               or_(service_periods.c.ends_on.is_(None), service_periods.c.ends_on > period.first))
    ).all()
    # Days as ordinals: a run reads every recipient of the collaboration, and date objects in
    # the inner loop were most of its time.
    first, end = period.first.toordinal(), period.end.toordinal()
    stretches: dict[int, list[tuple[int, int]]] = defaultdict(list)
    municipality_of: dict[int, int] = {}
    for r in rows:
        starts, ends = max(r.starts_on.toordinal(), first), min(r.ends_on.toordinal() if r.ends_on else end, end)
        if starts < ends:
            municipality_of[r.recipient_id] = r.municipality_id
            stretches[r.recipient_id].append((starts, ends))
    # A day of service counts once, however it was registered (overlapping periods merged).
    served = {recipient_id: _merged(spans) for recipient_id, spans in stretches.items()}
    month_starts = period.month_starts()
    month_index = [0] * (end - first)  # day of the period -> index of its month
    for i, month in enumerate(month_starts):
        start = month.toordinal() - first
        stop = InvoicePeriod(month, 1).end.toordinal() - first
        month_index[start:stop] = [i] * (stop - start)
    result: dict[tuple[int, UserFilter], ActiveDays] = {}
    for user_filter in set(filters):
        keep = None if user_filter is None else _recipients_with_devices(conn, ids, user_filter)
        # Per municipality, +1 where a stretch starts and -1 where it ends; the running sum is
        # the users active each day, added up per month.
        changes: dict[int, list[int]] = {mid: [0] * (end - first + 1) for mid in ids}
        by_recipient: dict[int, dict[int, int]] = {mid: {} for mid in ids}
        for recipient_id, spans in served.items():
            if keep is not None and recipient_id not in keep:
                continue
            mid = municipality_of[recipient_id]
            delta = changes[mid]
            total = 0
            for starts, ends in spans:
                delta[starts - first] += 1
                delta[ends - first] -= 1
                total += ends - starts
            by_recipient[mid][recipient_id] = total
        for mid in ids:
            by_month = [0] * len(month_starts)
            active = 0
            for day, change in enumerate(changes[mid][:-1]):
                active += change
                by_month[month_index[day]] += active
            result[(mid, user_filter)] = ActiveDays({m: n for m, n in zip(month_starts, by_month) if n},
                                                    by_recipient[mid])
    return result


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for starts, ends in sorted(spans):
        if merged and starts <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], ends))
        else:
            merged.append((starts, ends))
    return merged


def _recipients_with_devices(conn: Connection, municipality_ids: list[int], kinds: frozenset[str]) -> set[int]:
    return set(conn.execute(
        select(devices.c.recipient_id).distinct()
        .where(devices.c.municipality_id.in_(municipality_ids), devices.c.kind.in_(sorted(kinds)),
               devices.c.recipient_id.is_not(None))
    ).scalars())


def period_instants(period: InvoicePeriod) -> tuple[datetime, datetime]:
    """The period's bounds as instants: midnight in Oslo on its first and end days."""
    return (datetime.combine(period.first, time(0), tzinfo=OSLO), datetime.combine(period.end, time(0), tzinfo=OSLO))


def events_by_type(conn: Connection, municipality_ids: Iterable[int], period: InvoicePeriod,
                   alarm_types: Iterable[str]) -> dict[int, dict[str, int]]:
    """Alarms of the priced types received in the period by municipality and type (a storm's
    group alarm is not a device's event and is left out, as in the statistics). The index
    ``ix_alarms_municipality_received`` carries type and source, so this reads the index
    only, not a year of alarm rows."""
    types = sorted(set(alarm_types))
    if not types:
        return {}
    start, end = period_instants(period)
    rows = conn.execute(
        select(alarms.c.municipality_id, alarms.c.type, func.count())
        .where(alarms.c.municipality_id.in_(sorted(municipality_ids)), alarms.c.received_at >= start,
               alarms.c.received_at < end, alarms.c.type.in_(types), alarms.c.source.not_in(NOT_A_SERVICE))
        .group_by(alarms.c.municipality_id, alarms.c.type)
    ).all()
    counted: dict[int, dict[str, int]] = defaultdict(dict)
    for municipality_id, alarm_type, n in rows:
        counted[municipality_id][alarm_type] = n
    return counted


def supervisions_done(conn: Connection, municipality_ids: Iterable[int], period: InvoicePeriod) -> dict[int, int]:
    """Look-ins whose outcome was recorded in the period, by municipality (read from
    digital_supervision's rows): what a per-supervision price counts. A camera look-in that
    found the camera unavailable is not counted; the phone call in its place is."""
    start, end = period_instants(period)
    rows = conn.execute(
        select(supervision_lookins.c.municipality_id, func.count())
        .where(supervision_lookins.c.municipality_id.in_(sorted(municipality_ids)),
               *_completed(start, end))
        .group_by(supervision_lookins.c.municipality_id)).all()
    return dict(rows)


def supervisions_counted(conn: Connection, municipality_id: int, period: InvoicePeriod):
    """The look-ins behind a per-supervision line (its drill-down), oldest first."""
    start, end = period_instants(period)
    return conn.execute(
        select(supervision_lookins.c.id, supervision_lookins.c.method, supervision_lookins.c.reason,
               supervision_lookins.c.finished_at)
        .where(supervision_lookins.c.municipality_id == municipality_id, *_completed(start, end))
        .order_by(supervision_lookins.c.finished_at)).all()


def _completed(start: datetime, end: datetime) -> tuple:
    # A camera that showed nothing is no supervision: the phone call made instead is.
    return (supervision_lookins.c.state == "done", supervision_lookins.c.outcome != "camera_unavailable",
            supervision_lookins.c.finished_at >= start, supervision_lookins.c.finished_at < end)


def events_counted(conn: Connection, municipality_id: int, alarm_types: Iterable[str], period: InvoicePeriod):
    """The alarms behind a per-event line (its drill-down), oldest first."""
    start, end = period_instants(period)
    return conn.execute(
        select(alarms.c.id, alarms.c.type, alarms.c.received_at)
        .where(alarms.c.municipality_id == municipality_id, alarms.c.type.in_(sorted(alarm_types)),
               alarms.c.received_at >= start, alarms.c.received_at < end, alarms.c.source.not_in(NOT_A_SERVICE))
        .order_by(alarms.c.received_at)
    ).all()


def recipient_names(conn: Connection, recipient_ids: Iterable[int]) -> list:
    """(id, given_name, family_name) of each recipient, read in chunks: SQLite allows some
    32,000 parameters a statement."""
    ids = sorted(recipient_ids)
    names = []
    for start in range(0, len(ids), 5000):
        names += conn.execute(select(recipients.c.id, recipients.c.given_name, recipients.c.family_name)
                              .where(recipients.c.id.in_(ids[start:start + 5000]))).all()
    return names
