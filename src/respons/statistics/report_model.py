"""What a report says: the figures of one municipality and period, month by month for longer
periods, and an explanation of each figure in plain words (docs/statistics.md has the
definitions).

The documents sent to the municipality (PDF, XLSX) are in bokmål, the default here; the report
page in the browser follows the reader's language (``language="en"``), so an English reader
sees no Norwegian (issue 14)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.engine import Connection

from respons.deviations.rules import YearSummary
from respons.statistics.rules import AlarmFact, Counts, Distribution, KeyFigures, Period
from respons.statistics import service as statistics
from respons.formatting import decimal, duration, percent
from respons.deviations import words as _deviation_words  # noqa: F401  (the categories' names)
from respons.web import i18n

MONTHS_NB = ("januar", "februar", "mars", "april", "mai", "juni", "juli", "august", "september", "oktober",
             "november", "desember")
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")
MONTHS = {"nb": MONTHS_NB, "en": MONTHS_EN}
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
EXPLANATIONS_EN = (
    ("Alarms received", "Every alarm from the municipality's service recipients in the period, by when it arrived "
     "(Norwegian time)."),
    ("Answered within 60 seconds", "The share of the alarms the centre was to answer that were answered within 60 "
     "seconds of reaching the queue. The Norwegian Directorate of Health recommends at least 95 %."),
    ("Answer time", "Mean, median, 90th percentile and longest time from the alarm reaching the queue to an operator "
     "at the centre answering. Alarms home care took itself are not counted."),
    ("Cleared by the centre", "The share of alarms whose outcome was that the centre settled the matter itself, "
     "sending nobody (clearance rate; 50–70 % is usual)."),
    ("Dispatches and notifications", "How many alarms the centre passed on to home care, 113 (emergency), next of "
     "kin or a technician."),
    ("Handled directly by home care", "Alarms that went straight to home care and were taken there, without the "
     "centre. They are counted apart, not among the dispatches."),
    ("Routed directly / escalated", "Alarms that first went straight to home care, and how many of them still had "
     "to go to the centre."),
    ("Home care", "Time from home care being asked to go out to someone taking the mission, and from the alarm "
     "arriving to their being there."),
    ("Hours saved", "Alarms cleared by the centre times the time a call-out would have taken home care."),
)
EXPLANATIONS_BY_LANGUAGE = {"nb": EXPLANATIONS, "en": EXPLANATIONS_EN}
_NB = i18n.translator("nb")


def category_nb(code: str) -> str:
    """A deviation category's name in the reports, which are bokmål (never its code)."""
    key = f"dev.category.{code}"
    return _NB(key) if key in i18n.CATALOGUE else code


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


def period_title(period: Period, first_day: date, language: str = "nb") -> str:
    english = language == "en"
    match period:
        case Period.MONTH:
            return f"{MONTHS[language][first_day.month - 1]} {first_day.year}"
        case Period.HALF_YEAR:
            half = "1" if first_day.month == 1 else "2"
            return f"{'first' if half == '1' else 'second'} half of {first_day.year}" if english else \
                f"{half}. halvår {first_day.year}"
        case Period.YEAR:
            return str(first_day.year)
        case Period.WEEK:
            return f"{'week' if english else 'uke'} {first_day.isocalendar().week} {first_day.isocalendar().year}"
    return first_day.isoformat()


def report_title(municipality: str, period: Period, first_day: date, language: str = "nb") -> str:
    if language == "en":
        return f"The response service for {municipality}: {period_title(period, first_day, language)}"
    return f"Responstjenesten for {municipality}: {period_title(period, first_day, language)}"


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
        title=report_title(name, request.period, request.first_day),
        figures=statistics.figures(conn, request, now=now, minutes_per_cleared_alarm=minutes_per_cleared_alarm),
        months=months, minutes_per_cleared_alarm=minutes_per_cleared_alarm,
        alarms=statistics.facts(conn, request) if per_alarm else None,
    )


def share(value: float | None, language: str = "nb") -> str:
    return percent(value, language)


def times(d: Distribution, language: str = "nb") -> str:
    """A distribution of durations, the way the dashboard words it."""
    if not d.count:
        return "–"
    words = ("mean", "median", "90 % within", "longest") if language == "en" else ("snitt", "median", "90 % innen",
                                                                                  "lengste")
    values = (d.mean, d.median, d.p90, d.max)
    return ", ".join(f"{word} {duration(value, language)}" for word, value in zip(words, values))


_KEY_NAMES = {
    "nb": ("Alarmer mottatt", "Besvart innen 60 sekunder", "Svartid", "Avklart av responssenteret",
           "Utrykninger og varsling", "Håndtert direkte av hjemmetjenesten", "Direkterutet / eskalert",
           "Hjemmetjenesten tok oppdraget etter", "Hjemmetjenesten var fremme etter", "Manglende respons",
           "Tekniske alarmer / enheter uten kontakt", "Timer spart for hjemmetjenesten"),
    "en": ("Alarms received", "Answered within 60 seconds", "Answer time", "Cleared by the centre",
           "Dispatches and notifications", "Handled directly by home care", "Routed directly / escalated",
           "Home care accepted the mission after", "Home care arrived after", "Missing responses",
           "Technical alarms / devices out of contact", "Hours saved for home care"),
}
_DISPATCH_WORDS = {"nb": ("hjemmetjenesten", "113/AMK", "pårørende", "tekniker", "av"),
                   "en": ("home care", "113 (emergency)", "next of kin", "technician", "of")}


def key_rows(k: KeyFigures, language: str = "nb") -> list[tuple[str, str]]:
    """The figures as (name, value) rows, in the order the explanations follow."""
    home, emergency, kin, technician, of = _DISPATCH_WORDS[language]
    values = (
        str(k.received),
        f"{share(k.share_answered_within_target, language)} {of} {k.to_centre}",
        times(k.answer_seconds, language),
        f"{share(k.clearance_rate, language)} {of} {k.resolved_by_centre}",
        f"{home} {k.dispatches.get('home_care_dispatched', 0)}, {emergency} {k.dispatches.get('emergency_services', 0)}, "
        f"{kin} {k.dispatches.get('next_of_kin', 0)}, {technician} {k.dispatches.get('technician', 0)}",
        str(k.handled_by_home_care),
        f"{k.routed_direct} / {k.escalated} ({share(k.escalation_share, language)})",
        times(k.accept_seconds, language),
        times(k.arrival_seconds, language),
        str(k.missing_responses),
        f"{k.technical} / {k.devices_lost}",
        decimal(k.hours_saved, 1, language),
    )
    return list(zip(_KEY_NAMES[language], values))


@dataclass(frozen=True)
class YearReport:
    """The yearly report across the collaboration: one row per municipality, the totals, and
    the year's deviations for the committee."""

    year: int
    title: str
    rows: list[tuple[str, str, Counts]]  # (number, name, counts), by name
    total: Counts
    deviations: YearSummary


def record_year_export(conn: Connection, municipality_ids: frozenset[int], year: int, *, actor: str, what: str,
                       now: datetime) -> None:
    """A yearly report across the collaboration is audited as an export of each municipality's
    year, so each municipality's own audit trail shows it."""
    for municipality_id in sorted(municipality_ids):
        statistics.record_export(conn, statistics.PeriodRequest(municipality_id, Period.YEAR, date(year, 1, 1)),
                                 actor=actor, what=what, now=now)


def build_year(conn: Connection, municipality_ids: frozenset[int], year: int, *, now: datetime,
               minutes_per_cleared_alarm: float) -> YearReport:
    from respons.statistics.rules import OSLO
    from respons.deviations import service as deviations
    from respons.statistics.store import counts_by_municipality

    names = statistics.municipality_names(conn, municipality_ids)
    start, end = datetime(year, 1, 1, tzinfo=OSLO), datetime(year + 1, 1, 1, tzinfo=OSLO)
    per = counts_by_municipality(conn, municipality_ids=frozenset(names), start=start, end=end, now=now,
                                 minutes_per_cleared_alarm=minutes_per_cleared_alarm)
    empty = Counts(minutes_per_cleared_alarm=minutes_per_cleared_alarm)
    rows = [(number, name, per.get(mid, empty)) for mid, (number, name) in names.items()]
    total = sum((counts for _, _, counts in rows), empty)
    return YearReport(year=year, title=f"Responstjenesten i samarbeidet: {year}", rows=rows, total=total,
                      deviations=deviations.year_summary(conn, municipality_ids=frozenset(names), year=year))
