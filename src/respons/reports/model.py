"""What a report says: the figures of one municipality and period, month by month for longer
periods, and an explanation of each figure in plain Norwegian (docs/statistics.md has the
definitions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.engine import Connection

from respons.domain.deviations import YearSummary
from respons.domain.statistics import AlarmFact, Counts, Distribution, KeyFigures, Period
from respons.engine import statistics
from respons.reports.formatting import decimal, duration, percent

MONTHS_NB = ("januar", "februar", "mars", "april", "mai", "juni", "juli", "august", "september", "oktober",
             "november", "desember")
PERIOD_NB = {Period.DAY: "dag", Period.WEEK: "uke", Period.MONTH: "måned", Period.HALF_YEAR: "halvår", Period.YEAR: "år"}

EXPLANATIONS = (
    ("Alarmer mottatt", "Alle alarmer fra kommunens tjenestemottakere i perioden, regnet etter når de kom inn (norsk tid)."),
    ("Besvart innen 60 sekunder", "Andelen av alarmene responssenteret skulle besvare som ble besvart innen 60 sekunder "
     "etter at de kom i køen. Helsedirektoratet anbefaler minst 95 %."),
    ("Svartid", "Gjennomsnitt, median, 90-prosentil og lengste tid fra alarmen kom i køen til en operatør på "
     "responssenteret svarte. Alarmer hjemmetjenesten tok selv, telles ikke med."),
    ("Avklart av responssenteret", "Andelen alarmer med utfall der responssenteret løste saken selv, uten å sende noen "
     "(avklaringsrate; 50–70 % er vanlig)."),
    ("Utrykninger og varsling", "Hvor mange alarmer responssenteret sendte videre til hjemmetjenesten, 113/AMK, "
     "pårørende eller tekniker."),
    ("Håndtert direkte av hjemmetjenesten", "Alarmer som gikk rett til hjemmetjenesten og ble tatt der, uten "
     "responssenteret. De telles for seg, ikke blant utrykningene."),
    ("Direkterutet / eskalert", "Alarmer som først gikk rett til hjemmetjenesten, og hvor mange av dem som likevel "
     "måtte til responssenteret."),
    ("Hjemmetjenesten", "Tid fra hjemmetjenesten ble bedt om å rykke ut til noen tok oppdraget, og fra alarmen kom til "
     "de var fremme."),
    ("Timer spart", "Alarmer avklart av responssenteret ganget med tiden en utrykning ville tatt for hjemmetjenesten."),
)


@dataclass(frozen=True)
class Report:
    municipality: str
    municipality_number: str
    period: Period
    first_day: date
    title: str
    figures: KeyFigures
    months: list[tuple[date, KeyFigures]]  # month by month for half years and years
    minutes_per_cleared_alarm: float
    alarms: list[AlarmFact] | None = None  # one per alarm, for the XLSX's sheet (``per_alarm``)


def period_title(period: Period, first_day: date) -> str:
    match period:
        case Period.MONTH:
            return f"{MONTHS_NB[first_day.month - 1]} {first_day.year}"
        case Period.HALF_YEAR:
            return f"{'1.' if first_day.month == 1 else '2.'} halvår {first_day.year}"
        case Period.YEAR:
            return str(first_day.year)
        case Period.WEEK:
            return f"uke {first_day.isocalendar().week} {first_day.isocalendar().year}"
    return first_day.isoformat()


def build(conn: Connection, request: statistics.PeriodRequest, *, now: datetime, minutes_per_cleared_alarm: float,
          per_alarm: bool = False) -> Report:
    """The report's figures, summed by the database; ``per_alarm`` also reads every alarm
    (the XLSX has a sheet of them; the PDF and the page do not need them)."""
    number, name = statistics.municipality_names(conn, frozenset({request.municipality_id}))[request.municipality_id]
    months: list[tuple[date, KeyFigures]] = []
    if request.period in (Period.HALF_YEAR, Period.YEAR):
        by_month = statistics.breakdown(conn, request, Period.MONTH, now=now,
                                        minutes_per_cleared_alarm=minutes_per_cleared_alarm)
        months = sorted(by_month.items())
    return Report(
        municipality=name, municipality_number=number, period=request.period, first_day=request.first_day,
        title=f"Responstjenesten for {name}: {period_title(request.period, request.first_day)}",
        figures=statistics.figures(conn, request, now=now, minutes_per_cleared_alarm=minutes_per_cleared_alarm),
        months=months, minutes_per_cleared_alarm=minutes_per_cleared_alarm,
        alarms=statistics.facts(conn, request) if per_alarm else None,
    )


def share(value: float | None) -> str:
    return percent(value, "nb")


def times(d: Distribution) -> str:
    """A distribution of durations, in Norwegian, the way the dashboard words it."""
    if not d.count:
        return "–"
    return (f"snitt {duration(d.mean)}, median {duration(d.median)}, 90 % innen {duration(d.p90)}, "
            f"lengste {duration(d.max)}")


def key_rows(k: KeyFigures) -> list[tuple[str, str]]:
    """The figures as (name, value) rows, in the order the explanations follow."""
    seconds = times

    return [
        ("Alarmer mottatt", str(k.received)),
        ("Besvart innen 60 sekunder", f"{share(k.share_answered_within_target)} av {k.to_centre}"),
        ("Svartid", seconds(k.answer_seconds)),
        ("Avklart av responssenteret", f"{share(k.clearance_rate)} av {k.resolved_by_centre}"),
        ("Utrykninger og varsling", f"hjemmetjenesten {k.dispatches.get('home_care_dispatched', 0)}, "
                                    f"113/AMK {k.dispatches.get('emergency_services', 0)}, "
                                    f"pårørende {k.dispatches.get('next_of_kin', 0)}, "
                                    f"tekniker {k.dispatches.get('technician', 0)}"),
        ("Håndtert direkte av hjemmetjenesten", str(k.handled_by_home_care)),
        ("Direkterutet / eskalert", f"{k.routed_direct} / {k.escalated} ({share(k.escalation_share)})"),
        ("Hjemmetjenesten tok oppdraget etter", seconds(k.accept_seconds)),
        ("Hjemmetjenesten var fremme etter", seconds(k.arrival_seconds)),
        ("Manglende respons", str(k.missing_responses)),
        ("Tekniske alarmer / enheter uten kontakt", f"{k.technical} / {k.devices_lost}"),
        ("Timer spart for hjemmetjenesten", decimal(k.hours_saved, 1, "nb")),
    ]


@dataclass(frozen=True)
class YearReport:
    """The yearly report across the collaboration: one row per municipality, the totals, and
    the year's deviations for the committee."""

    year: int
    title: str
    rows: list[tuple[str, str, Counts]]  # (number, name, counts), by name
    total: Counts
    deviations: YearSummary


def build_year(conn: Connection, municipality_ids: frozenset[int], year: int, *, now: datetime,
               minutes_per_cleared_alarm: float) -> YearReport:
    from respons.domain.statistics import OSLO
    from respons.engine import deviations
    from respons.store.statistics import counts_by_municipality

    names = statistics.municipality_names(conn, municipality_ids)
    start, end = datetime(year, 1, 1, tzinfo=OSLO), datetime(year + 1, 1, 1, tzinfo=OSLO)
    per = counts_by_municipality(conn, municipality_ids=frozenset(names), start=start, end=end, now=now,
                                 minutes_per_cleared_alarm=minutes_per_cleared_alarm)
    empty = Counts(minutes_per_cleared_alarm=minutes_per_cleared_alarm)
    rows = [(number, name, per.get(mid, empty)) for mid, (number, name) in names.items()]
    total = sum((counts for _, _, counts in rows), empty)
    return YearReport(year=year, title=f"Responstjenesten i samarbeidet: {year}", rows=rows, total=total,
                      deviations=deviations.year_summary(conn, municipality_ids=frozenset(names), year=year))
