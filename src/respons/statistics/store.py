"""Reading the key figures (statistics/rules.py) from the alarm rows.

One row per alarm: the ``alarms`` row carries the projection of its timeline (received,
queued, answered, outcome, arrival) and the mission. The one thing it does not say is *who*
answered, the centre or home care: both are ``user:<id>``; the answered event's
``{"via": "responder_app"}`` says it. Those events are a few per cent of the timeline and
have their own partial index (``ix_alarm_events_home_care_answers``, migration 0010), so
each query joins, once, the home-care answers given since the period began (first and last
per alarm) instead of reading the timeline per alarm (docs/statistics.md, *Who answered*).
A storm's group alarm (source ``storm``) is left out: it only groups its members,
which are counted as the device reports they are.

Two ways to the same figures:

- ``alarm_facts`` turns each alarm into an ``AlarmFact`` for the domain's ``key_figures``:
  the drill-down, the per-alarm CSV and XLSX, and the tests' reference.
- ``key_figures_by`` and ``counts_by_municipality`` let the database sum: a large
  municipality's month is tens of thousands of alarms, the yearly report across the
  collaboration millions, and turning each into a Python object was most of a report's time.
  They spell the domain's definitions in SQL; tests hold the two to the same figures on the
  same alarms, on both databases (tests/integration/statistics/test_sql.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Hashable, Iterator

from sqlalchemy import DateTime, Integer, String, and_, bindparam, case, cast, func, literal, not_, or_, select, text
from sqlalchemy.engine import Connection

from respons.domain.routing import Target
from respons.statistics.rules import (
    ANSWER_TARGET_SECONDS,
    CLEARED_AT_CENTRE,
    DEFAULT_MINUTES_PER_CLEARED_ALARM,
    DISPATCH_OUTCOMES,
    OSLO,
    AlarmFact,
    Counts,
    Distribution,
    KeyFigures,
    Period,
    hours_saved,
    period_bounds,
    period_of,
)
from respons.domain.alarm_types import NOT_A_SERVICE
from respons.store.tables import HOME_CARE_ANSWER_WHERE, alarms, recipients
from respons.store.types import UTCDateTime

# A breakdown the database can group by: one total (None), a column, or Oslo periods.
Grouping = str | Period | None
GROUPINGS = (None, "municipality", "zone", "category", *Period)


def alarm_facts(conn: Connection, *, municipality_ids: frozenset[int], start: datetime, end: datetime) -> list[AlarmFact]:
    """Facts for alarms received in [start, end) in the given municipalities, oldest first.

    The route's first target and the mission's times are read as text by the database (JSON
    paths), not as whole JSON documents: decoding every plan and mission in Python was most
    of the time."""
    hc = _home_care_answers(conn, start)
    rows = conn.execute(
        _in_scope(select(alarms.c.id, alarms.c.municipality_id, recipients.c.zone_id, alarms.c.recipient_id,
                         alarms.c.type, alarms.c.category, alarms.c.received_at, alarms.c.queued_at,
                         alarms.c.answered_at, alarms.c.outcome, alarms.c.closed_at, alarms.c.missing_response,
                         alarms.c.arrived_at, _first_target().label("first_target"),
                         _mission_time("dispatched_at").label("dispatched_at"),
                         _mission_time("accepted_at").label("accepted_at"),
                         hc.c.first_at.label("home_care_first_at"), hc.c.last_at.label("home_care_last_at")),
                  municipality_ids, start, end, join_recipients=True, home_care=hc)
        .order_by(alarms.c.received_at)
    ).all()
    return [_fact(r) for r in rows]


def _fact(r) -> AlarmFact:
    routed_direct = r.first_target is not None and r.first_target != Target.CENTRE.value
    answered = r.answered_at is not None
    # The standing answer is a responder's in the app if it is the last one they gave; a
    # timeline without that mark (the demo's history) is home care's if it was routed to a
    # zone and answered there before it ever reached the centre.
    marked_home_care = answered and r.home_care_last_at is not None and r.home_care_last_at == r.answered_at
    by_home_care = marked_home_care or (answered and r.home_care_last_at is None and r.queued_at is None
                                        and r.first_target == Target.ZONE.value)
    asked_at = accepted_at = None
    if r.dispatched_at:
        # The centre dispatched home care: asked then, accepted when someone took the mission.
        asked_at = datetime.fromisoformat(r.dispatched_at)
        accepted_at = datetime.fromisoformat(r.accepted_at) if r.accepted_at else None
    elif routed_direct:
        # Offered on arrival; accepted when a responder first took it, even if they handed it
        # back to the centre afterwards (the acceptance happened; the row no longer shows it).
        asked_at = r.received_at
        accepted_at = r.home_care_first_at or (r.answered_at if by_home_care else None)
    return AlarmFact(
        alarm_id=r.id, municipality_id=r.municipality_id, zone_id=r.zone_id, recipient_id=r.recipient_id, type=r.type,
        category=r.category, received_at=r.received_at, queued_at=r.queued_at, answered_at=r.answered_at,
        answered_by_centre=r.queued_at is not None and answered and not marked_home_care,
        answered_by_home_care=by_home_care,
        outcome=r.outcome, closed_at=r.closed_at, routed_direct=routed_direct,
        escalated=routed_direct and r.queued_at is not None, home_care_asked_at=asked_at, mission_accepted_at=accepted_at,
        arrived_at=r.arrived_at, missing_response=r.missing_response,
    )


def counts_by_municipality(conn: Connection, *, municipality_ids: frozenset[int], start: datetime, end: datetime,
                           now: datetime, minutes_per_cleared_alarm: float) -> dict[int, Counts]:
    """The additive key figures per municipality in one pass: what the yearly table across
    the collaboration needs, without the distributions and breakdowns of ``key_figures_by``."""
    sums = {key: s for key, _, s in _sum_rows(conn, "municipality", municipality_ids, start, end, now)}
    return {key: Counts(received=s["received"], to_centre=s["to_centre"], answered_within_target=s["within"],
                        pending_answer=s["pending"], resolved_by_centre=s["resolved"], cleared_at_centre=s["cleared"],
                        routed_direct=s["direct"], escalated=s["escalated"], missing_responses=s["missing"],
                        minutes_per_cleared_alarm=minutes_per_cleared_alarm)
            for key, s in sums.items()}


def key_figures_by(conn: Connection, *, municipality_ids: frozenset[int], start: datetime, end: datetime,
                   now: datetime, by: Grouping = None,
                   minutes_per_cleared_alarm: float = DEFAULT_MINUTES_PER_CLEARED_ALARM,
                   frequent_top: int = 10) -> dict[Hashable, KeyFigures]:
    """The key figures of the alarms received in [start, end), per part of a breakdown (the
    domain's ``breakdown``; parts without alarms are absent), or as one total under the key
    None (``by=None``; present even without alarms, like ``key_figures`` of nothing).

    Two passes over the period's rows (through ``ix_alarms_municipality_received``): the
    sums by type, category, Oslo hour and weekday; then each alarm's recipient and three
    times (a few small numbers per alarm) for the frequent recipients and the percentiles."""
    # One pass for the sums and the counts by type, category, Oslo hour and weekday: a few
    # hundred groups, added up here (every count is a sum, so the order does not matter).
    hour, weekday = _oslo_hour_and_weekday(conn, start, end)
    sums: dict[Hashable, Counter] = defaultdict(Counter)
    by_type: dict[Hashable, Counter] = defaultdict(Counter)
    by_category: dict[Hashable, Counter] = defaultdict(Counter)
    by_hour: dict[Hashable, Counter] = defaultdict(Counter)
    by_weekday: dict[Hashable, Counter] = defaultdict(Counter)
    detail = (alarms.c.type, alarms.c.category, hour.label("hour"), weekday.label("weekday"))
    for k, (type_, category, local_hour, iso_weekday), group in _sum_rows(conn, by, municipality_ids, start, end, now,
                                                                        detail):
        sums[k].update(group)
        n = group["received"]
        by_type[k][type_] += n
        by_category[k][category] += n
        by_hour[k][int(local_hour)] += n
        by_weekday[k][int(iso_weekday)] += n
    if by is None and None not in sums:
        sums[None] = Counter()
    # The second pass: per alarm, its recipient and its three times (answer, acceptance,
    # arrival): the medians and percentiles need the values, and the frequent recipients are
    # counted from the same rows rather than in a third pass.
    key, decode = _grouping(conn, by, start, end)
    keys = [] if key is None else [key]
    per_recipient: dict[Hashable, Counter] = defaultdict(Counter)
    answers: dict[Hashable, list[float]] = defaultdict(list)
    accepts: dict[Hashable, list[float]] = defaultdict(list)
    arrivals: dict[Hashable, list[float]] = defaultdict(list)
    hc = _home_care_answers(conn, start)
    times = _in_scope(select(*keys, alarms.c.recipient_id, _answer_seconds(conn, hc), _accept_seconds(conn, hc),
                             _arrival_seconds(conn)), municipality_ids, start, end, join_recipients=by == "zone",
                      home_care=hc)
    for row in conn.execute(times):
        k = decode(row[0]) if keys else None
        if row[-4] is not None:
            per_recipient[k][row[-4]] += 1
        for values, seconds in ((answers, row[-3]), (accepts, row[-2]), (arrivals, row[-1])):
            if seconds is not None:
                values[k].append(max(0.0, float(seconds)))

    figures = {}
    for k, s in sums.items():
        dispatches = {o: s[f"dispatch_{o}"] for o in DISPATCH_OUTCOMES}
        figures[k] = KeyFigures(
            received=s["received"], by_type=dict(by_type[k]), by_category=dict(by_category[k]),
            by_hour=dict(by_hour[k]), by_weekday=dict(by_weekday[k]), to_centre=s["to_centre"],
            answered_within_target=s["within"], pending_answer=s["pending"],
            answer_seconds=Distribution.of(answers[k]), resolved_by_centre=s["resolved"],
            cleared_at_centre=s["cleared"], dispatches=dispatches, routed_direct=s["direct"],
            escalated=s["escalated"], accept_seconds=Distribution.of(accepts[k]),
            arrival_seconds=Distribution.of(arrivals[k]), missing_responses=s["missing"],
            technical=s["technical"], devices_lost=s["devices_lost"],
            hours_saved=hours_saved(s["cleared"], minutes_per_cleared_alarm),
            frequent_recipients=sorted(per_recipient[k].items(), key=lambda kv: (-kv[1], kv[0]))[:frequent_top],
            handled_by_home_care=s["home_care"],
        )
    return figures


# --- the domain's definitions, spelled in SQL -------------------------------------------


def _sum_rows(conn: Connection, by: Grouping, municipality_ids: frozenset[int], start: datetime, end: datetime,
              now: datetime, detail: tuple = ()) -> Iterator[tuple[Hashable, tuple, dict[str, int]]]:
    """The additive figures summed per key and ``detail`` columns: (key, detail values, sums)."""
    hc = _home_care_answers(conn, start)
    answered_by_centre = _answered_by_centre(hc)
    by_home_care = _answered_by_home_care(hc)
    queue_seconds = _seconds(conn, alarms.c.answered_at, alarms.c.queued_at)
    in_time = and_(answered_by_centre, queue_seconds <= ANSWER_TARGET_SECONDS)
    waiting = and_(alarms.c.queued_at.is_not(None), alarms.c.answered_at.is_(None))
    late_waiting = and_(waiting, alarms.c.queued_at < now - timedelta(seconds=ANSWER_TARGET_SECONDS))
    # Taken out of the centre's queue by home care after it had waited past the target.
    late_taken = and_(alarms.c.queued_at.is_not(None), _marked_home_care(hc), queue_seconds > ANSWER_TARGET_SECONDS)
    pending = and_(waiting, alarms.c.queued_at >= now - timedelta(seconds=ANSWER_TARGET_SECONDS))
    resolved = and_(answered_by_centre, alarms.c.outcome.is_not(None))
    direct = _routed_direct()

    def total(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    columns = {
        "received": func.count(),
        "to_centre": total(or_(answered_by_centre, late_waiting, late_taken)),
        "within": total(in_time),
        "pending": total(pending),
        "resolved": total(resolved),
        "cleared": total(and_(resolved, alarms.c.outcome.in_(sorted(CLEARED_AT_CENTRE)))),
        "direct": total(direct),
        "escalated": total(and_(direct, alarms.c.queued_at.is_not(None))),
        "missing": total(alarms.c.missing_response.is_(True)),
        "technical": total(alarms.c.category == "technical"),
        "devices_lost": total(alarms.c.type == "device_silent"),
        "home_care": total(by_home_care),
        **{f"dispatch_{o}": total(and_(alarms.c.outcome == o, not_(by_home_care))) for o in DISPATCH_OUTCOMES},
    }
    key, decode = _grouping(conn, by, start, end)
    keys = [] if key is None else [key]
    query = _in_scope(select(*keys, *detail, *(c.label(name) for name, c in columns.items())), municipality_ids,
                      start, end, join_recipients=by == "zone", home_care=hc).group_by(*keys, *detail)
    for row in conn.execute(query):
        if row.received:  # without GROUP BY, no alarms is one row of zeros
            yield (decode(row[0]) if keys else None, tuple(row[len(keys):len(keys) + len(detail)]),
                   {name: int(row._mapping[name]) for name in columns})


def _in_scope(query, municipality_ids: frozenset[int], start: datetime, end: datetime, *, join_recipients: bool = False,
              home_care=None):
    joined = alarms
    if join_recipients:
        joined = joined.outerjoin(recipients, recipients.c.id == alarms.c.recipient_id)
    if home_care is not None:
        joined = joined.outerjoin(home_care, home_care.c.alarm_id == alarms.c.id)
    if joined is not alarms:
        query = query.select_from(joined)
    return query.where(alarms.c.municipality_id.in_(sorted(municipality_ids)), alarms.c.received_at >= start,
                       alarms.c.received_at < end, alarms.c.source.not_in(NOT_A_SERVICE))


def _first_target():
    return alarms.c.route[("steps", 0, "target")].as_string()


def _routed_direct():
    return func.coalesce(_first_target(), Target.CENTRE.value) != Target.CENTRE.value


def _mission_time(name: str):
    return alarms.c.mission[name].as_string()


def _home_care_answers(conn: Connection, start: datetime):
    """Per alarm, the first and last answer a responder gave in the app at or after ``start``
    (an alarm of the period cannot be answered before it). The predicate is the partial
    index's, verbatim, so SQLite's planner recognises it; PostgreSQL's proves it the same way."""
    # Written as text: SQLite would rather walk the whole timeline in alarm order than sort
    # the few rows for GROUP BY, and SQLAlchemy has no way to say INDEXED BY, which keeps it on
    # the partial index (and fails loudly, rather than slowly, if the predicate ever stops
    # matching the index's). PostgreSQL finds the index by itself.
    pinned = " INDEXED BY ix_alarm_events_home_care_answers" if conn.dialect.name == "sqlite" else ""
    query = text(f"SELECT alarm_id, min(at) AS first_at, max(at) AS last_at FROM alarm_events{pinned} "
                 f"WHERE {HOME_CARE_ANSWER_WHERE[conn.dialect.name]} AND at >= :home_care_since GROUP BY alarm_id")
    return (query.bindparams(bindparam("home_care_since", start, type_=UTCDateTime))
            .columns(alarm_id=String, first_at=UTCDateTime, last_at=UTCDateTime).subquery("home_care"))


def _marked_home_care(hc):
    """The standing answer is the last one a responder gave in the app."""
    return and_(alarms.c.answered_at.is_not(None), hc.c.last_at.is_not(None), hc.c.last_at == alarms.c.answered_at)


def _answered_by_centre(hc):
    return and_(alarms.c.queued_at.is_not(None), alarms.c.answered_at.is_not(None), not_(_marked_home_care(hc)))


def _answered_by_home_care(hc):
    # As AlarmFact: marked, or (a timeline without marks) routed to a zone and answered
    # before it ever reached the centre.
    unmarked = and_(alarms.c.answered_at.is_not(None), hc.c.last_at.is_(None), alarms.c.queued_at.is_(None),
                    _first_target() == Target.ZONE.value)
    return or_(_marked_home_care(hc), unmarked)


def _answer_seconds(conn: Connection, hc):
    return case((_answered_by_centre(hc), _seconds(conn, alarms.c.answered_at, alarms.c.queued_at)))


def _accept_seconds(conn: Connection, hc):
    # As AlarmFact: from the centre's dispatch to a home-care worker taking the mission, or,
    # routed directly, from receipt to a responder first taking the offer (also when they
    # handed it back later).
    dispatched, accepted = _mission_time("dispatched_at"), _mission_time("accepted_at")
    return case(
        (dispatched.is_not(None),
         case((accepted.is_not(None), _seconds(conn, _instant(conn, accepted), _instant(conn, dispatched))))),
        (and_(_routed_direct(), hc.c.first_at.is_not(None)), _seconds(conn, hc.c.first_at, alarms.c.received_at)),
        (and_(_routed_direct(), _answered_by_home_care(hc)), _seconds(conn, alarms.c.answered_at, alarms.c.received_at)),
    )


def _arrival_seconds(conn: Connection):
    return case((alarms.c.arrived_at.is_not(None), _seconds(conn, alarms.c.arrived_at, alarms.c.received_at)))


# --- what the two databases spell differently --------------------------------------------


def _seconds(conn: Connection, later, earlier):
    if conn.dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    # SQLite's date functions work in milliseconds; rounding keeps whole-second differences
    # exact (julianday's double would make 60 s into 60.000004 and late).
    return func.round((func.julianday(later) - func.julianday(earlier)) * 86400.0, 3)


def _instant(conn: Connection, iso_text):
    """A timestamp written into JSON as ISO 8601 text (the mission's times)."""
    if conn.dialect.name == "postgresql":
        return cast(iso_text, DateTime(timezone=True))
    return iso_text  # julianday() reads ISO 8601 with its offset


def _oslo_hour_and_weekday(conn: Connection, start: datetime, end: datetime):
    """The Oslo hour of day (0–23) and ISO weekday (1–7) of receipt, as SQL expressions."""
    if conn.dialect.name == "postgresql":
        local = func.timezone("Europe/Oslo", alarms.c.received_at)
        return func.extract("hour", local), func.extract("isodow", local)
    # SQLite has no time zones: add the Oslo offset of the stretch of [start, end) the alarm
    # falls in (standard or summer time; tzdata decides where they change).
    stretches = oslo_offsets(start, end)
    offset = (literal(f"+{stretches[0][1]} seconds") if len(stretches) == 1 else
              case(*((alarms.c.received_at < until, f"+{seconds} seconds") for until, seconds in stretches[:-1]),
                   else_=f"+{stretches[-1][1]} seconds"))
    weekday = cast(func.strftime("%w", alarms.c.received_at, offset), Integer)  # 0 = Sunday
    return (cast(func.strftime("%H", alarms.c.received_at, offset), Integer),
            case((weekday == 0, 7), else_=weekday))


def oslo_offsets(start: datetime, end: datetime) -> list[tuple[datetime | None, int]]:
    """[start, end) cut where Oslo's UTC offset changes: (until, offset seconds) per stretch,
    the last one open (until None). Oslo's changes fall on whole UTC hours, so an hourly walk
    finds them all; a year is 8,760 steps."""
    utc = timezone.utc
    moment = start.astimezone(utc).replace(minute=0, second=0, microsecond=0)
    current = int(moment.astimezone(OSLO).utcoffset().total_seconds())
    stretches: list[tuple[datetime | None, int]] = []
    while moment < end:
        offset = int(moment.astimezone(OSLO).utcoffset().total_seconds())
        if offset != current:
            stretches.append((moment, current))
            current = offset
        moment += timedelta(hours=1)
    stretches.append((None, current))
    return stretches


def _grouping(conn: Connection, by: Grouping, start: datetime, end: datetime) -> tuple[Any, Callable[[Any], Hashable]]:
    """The key column of a breakdown (labelled; None for one total) and how to read its
    value back."""
    identity: Callable[[Any], Hashable] = lambda value: value  # noqa: E731
    match by:
        case None:
            return None, identity
        case "municipality":
            return alarms.c.municipality_id.label("key"), identity
        case "zone":
            return recipients.c.zone_id.label("key"), identity
        case "category":
            return alarms.c.category.label("key"), identity
        case Period():
            first_days = _period_starts(start, end, by)
            if len(first_days) > 400:
                raise ValueError(f"{len(first_days)} {by.value} periods are too many for one breakdown")
            # Every period gets its WHEN (also the last), so a single period is still a CASE:
            # PostgreSQL refuses a bare constant in GROUP BY.
            bucket = case(*((alarms.c.received_at < period_bounds(day, by)[1], index)
                            for index, day in enumerate(first_days)), else_=len(first_days) - 1)
            return bucket.label("key"), lambda index: first_days[int(index)]
    raise ValueError(f"cannot break key figures down by {by!r}; choose one of {GROUPINGS}")


def _period_starts(start: datetime, end: datetime, period: Period) -> list[date]:
    days = [period_of(start, period)]
    while period_bounds(days[-1], period)[1] < end:
        days.append(period_bounds(days[-1], period)[1].astimezone(OSLO).date())
    return days


def centre_load_by_hour(conn: Connection, *, start: datetime, end: datetime) -> tuple[dict[int, int], float | None]:
    """For the staffing planner: the alarms that reached the centre's queue in [start, end)
    by Oslo hour of receipt, and the mean handling time (answer to outcome) of those the
    centre answered and resolved, in seconds (None without any)."""
    reached = and_(alarms.c.received_at >= start, alarms.c.received_at < end, alarms.c.source.not_in(NOT_A_SERVICE),
                   alarms.c.queued_at.is_not(None))
    hour, _ = _oslo_hour_and_weekday(conn, start, end)
    by_hour = {int(h): n for h, n in conn.execute(select(hour.label("hour"), func.count()).where(reached).group_by(hour))}
    handling = conn.execute(select(func.avg(_seconds(conn, alarms.c.resolved_at, alarms.c.answered_at))).where(
        reached, alarms.c.answered_at.is_not(None), alarms.c.resolved_at.is_not(None))).scalar()
    return by_hour, None if handling is None else float(handling)
