"""Invoice runs: every municipality's lines for whole months, stored, approved, compared.

A run is computed from the price models in force (``store/economy.models_in_force``), the
active user-days and the events of the period, and the centre's budgets for the year. A
draft run can be computed again (it is replaced); an approved run is immutable: the engine
refuses to change it and the database's triggers refuse any write to it (migration 0008).
Computing a period that has an approved run stores nothing and returns the differences
instead, so a late registration shows up as a difference for a person to settle, never as a
silently changed invoice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Callable

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.engine import Connection

from respons.auth import audit
from respons.economy.pricing import (
    BudgetShare,
    InvoicePeriod,
    Line,
    PerEvent,
    PerSupervision,
    PerUserMonth,
    PriceModelError,
    Usage,
    lines_for,
    split_budget,
)
from respons.economy import store as economy
from respons.store.db import lock_for_transaction, write_transaction
from respons.store.tables import invoice_lines, invoice_runs

PURPOSE = "invoicing"


class InvoiceRefused(Exception):
    """A run that cannot be made or changed, with a message for a person: in bokmål (the CLI
    prints it), and named by ``key`` and ``params`` so a page can say it in its reader's
    language (economy/words.py, ``economy.refusal.<key>``)."""

    def __init__(self, message: str, key: str | None = None, **params):
        super().__init__(message)
        self.key = key  # None: not named, a page can only show the message
        self.params = params

    @classmethod
    def because(cls, error: Exception) -> "InvoiceRefused":
        """A price model's refusal (``PriceModelError``) as the run's, keeping its name."""
        return cls(str(error), getattr(error, "key", None), **getattr(error, "params", {}))


class CentreNotChosen(Exception):
    """The centre to invoice for is unclear: the one asked for does not exist (``requested``),
    or none was asked for and there is not exactly one (``count``)."""

    def __init__(self, requested: int | None, count: int):
        super().__init__(requested, count)
        self.requested = requested
        self.count = count


def centre_to_invoice(conn: Connection, requested: int | None) -> int:
    """The centre asked for, or the only one: with several, a run for the wrong centre's
    municipalities must not be made by default."""
    ids = economy.centre_ids(conn)
    if requested is not None:
        if requested not in ids:
            raise CentreNotChosen(requested, len(ids))
        return requested
    if len(ids) != 1:
        raise CentreNotChosen(None, len(ids))
    return ids[0]


@dataclass(frozen=True)
class ComputedLine:
    municipality_id: int
    price_model_id: int
    line: Line
    basis: dict
    recipients: dict[int, int] = field(default_factory=dict)  # recipient -> active days (per-user lines)


@dataclass(frozen=True)
class Difference:
    municipality_id: int
    description: str
    approved: Decimal | None  # None: a new line
    now: Decimal | None  # None: the line is gone


@dataclass(frozen=True)
class RunOutcome:
    run_id: int | None  # the stored draft; None when the period is approved and only compared
    approved_run_id: int | None
    total: Decimal
    lines: int
    differences: list[Difference]


def compute(conn: Connection, centre_id: int, period: InvoicePeriod) -> list[ComputedLine]:
    if period.month_starts()[-1].year != period.first.year:
        raise InvoiceRefused("En fakturaperiode må ligge innenfor ett kalenderår (budsjetter og indeks er per år).",
                             "one_year")
    try:
        in_force = economy.models_in_force(conn, centre_id, period)
    except PriceModelError as error:
        raise InvoiceRefused.because(error) from None
    if not in_force:
        raise InvoiceRefused("Ingen kommuner har en prismodell som gjelder i perioden.", "no_models")
    ids = [m.municipality_id for m in in_force]
    filters = {c.device_kinds for m in in_force for c in m.model.components if isinstance(c, PerUserMonth)}
    days = economy.active_days(conn, ids, period, filters)
    priced = {t for m in in_force for c in m.model.components if isinstance(c, PerEvent) for t in c.alarm_types}
    events = economy.events_by_type(conn, ids, period, priced)
    supervisions = economy.supervisions_done(conn, ids, period) if any(
        isinstance(c, PerSupervision) for m in in_force for c in m.model.components) else {}
    people = economy.populations(conn, ids)
    deflators = economy.deflator_table(conn)
    shares = _budget_shares(conn, centre_id, period, in_force, people)
    computed: list[ComputedLine] = []
    for m in in_force:
        usage = Usage(population=people[m.municipality_id],
                      user_days={f: days[(m.municipality_id, f)].by_month for f in filters},
                      events=events.get(m.municipality_id, {}),
                      supervisions=supervisions.get(m.municipality_id, 0))
        try:
            lines = lines_for(m.model, usage, period, deflators=deflators, budget_shares=shares.get(m.municipality_id))
        except ValueError as error:
            raise InvoiceRefused.because(error) from None
        for line in lines:
            component = m.model.components[line.component]
            basis: dict = {"kind": line.kind, "period": [period.first.isoformat(), period.end.isoformat()]}
            recipients: dict[int, int] = {}
            match component:
                case PerUserMonth():
                    basis["device_kinds"] = sorted(component.device_kinds) if component.device_kinds else None
                    recipients = days[(m.municipality_id, component.device_kinds)].by_recipient
                case PerEvent():
                    basis["alarm_types"] = sorted(component.alarm_types)
                case BudgetShare():
                    basis["budget"] = component.budget
            computed.append(ComputedLine(m.municipality_id, m.price_model_id, line, basis, recipients))
    return computed


def _budget_shares(conn: Connection, centre_id: int, period: InvoicePeriod, in_force, people) -> dict[int, dict[int, Decimal]]:
    """Each participant's share of each budget its model takes part in, by component index."""
    year_budgets = economy.year_budgets(conn, centre_id, period.first.year)
    participants: dict[str, list[tuple[int, int]]] = {}
    for m in in_force:
        for index, component in enumerate(m.model.components):
            if isinstance(component, BudgetShare):
                participants.setdefault(component.budget, []).append((m.municipality_id, index))
    shares: dict[int, dict[int, Decimal]] = {}
    for name, members in participants.items():
        if name not in year_budgets:
            raise InvoiceRefused(f"Budsjettet «{name}» for {period.first.year} er ikke lagt inn.", "no_budget",
                                 budget=name, year=period.first.year)
        split = split_budget(year_budgets[name], {mid: people[mid] for mid, _ in members},
                             fraction_of_year=Fraction(period.months, 12))
        for mid, index in members:
            shares.setdefault(mid, {})[index] = split[mid]
    return shares


def run(conn: Connection, centre_id: int, period: InvoicePeriod, *, actor: str, now: datetime) -> RunOutcome:
    """Compute the period and store it as a draft (replacing an earlier draft), or, if the
    period is approved, compare and store nothing."""
    return store(conn, centre_id, period, compute(conn, centre_id, period), actor=actor, now=now)


def store(conn: Connection, centre_id: int, period: InvoicePeriod, computed: list[ComputedLine], *, actor: str,
          now: datetime) -> RunOutcome:
    """The writing half of ``run``: a server computes on a read connection first and holds
    the write lock only for this (on SQLite the alarm journal waits for it). Whether the
    period is approved is decided here, inside the write transaction."""
    total = sum((c.line.amount for c in computed), Decimal(0))
    _lock_runs(conn, centre_id)
    existing = conn.execute(select(invoice_runs.c.id, invoice_runs.c.state).where(
        invoice_runs.c.centre_id == centre_id, invoice_runs.c.period_first == period.first,
        invoice_runs.c.months == period.months)).all()
    approved = next((r.id for r in existing if r.state == "approved"), None)
    if approved is not None:
        return RunOutcome(None, approved, total, len(computed), differences(stored_lines(conn, approved), computed))
    _refuse_overlap(conn, centre_id, period)
    for r in existing:  # an earlier draft of the same period is replaced
        conn.execute(delete(invoice_runs).where(invoice_runs.c.id == r.id))
    run_id = conn.execute(insert(invoice_runs).values(
        centre_id=centre_id, period_first=period.first, months=period.months, state="draft", total_ore=_ore(total),
        created_at=now, created_by=actor)).inserted_primary_key[0]
    _store_lines(conn, run_id, computed)
    audit.append(conn, now=now, actor=actor, action=audit.CREATE, purpose=PURPOSE,
                 details={"entity": "invoice_run", "run": run_id, "from": period.first.isoformat(),
                          "months": period.months, "total": str(total), "replaced_drafts": [r.id for r in existing]})
    return RunOutcome(run_id, None, total, len(computed), [])


def _store_lines(conn: Connection, run_id: int, computed: list[ComputedLine]) -> None:
    conn.execute(insert(invoice_lines), [dict(
        run_id=run_id, municipality_id=c.municipality_id, price_model_id=c.price_model_id, component=c.line.component,
        kind=c.line.kind, description=c.line.description, quantity=str(c.line.quantity), unit=c.line.unit,
        unit_price_ore=None if c.line.unit_price is None else _ore(c.line.unit_price), amount_ore=_ore(c.line.amount),
        due_on=c.line.due_on, basis=c.basis,
        recipients=sorted([rid, days] for rid, days in c.recipients.items()) if c.line.kind == "per_user_month" else None,
    ) for c in computed])


def _lock_runs(conn: Connection, centre_id: int) -> None:
    """One change of a centre's runs at a time (PostgreSQL; SQLite has one writer): two nodes
    computing the same period, or approving overlapping ones, would each see none of the other."""
    lock_for_transaction(conn, f"invoice_runs:{centre_id}")


def _refuse_overlap(conn: Connection, centre_id: int, period: InvoicePeriod, *, run_id: int | None = None) -> None:
    """A month is invoiced once: no run may cover a month an approved run covers."""
    for other in conn.execute(select(invoice_runs.c.id, invoice_runs.c.period_first, invoice_runs.c.months).where(
            invoice_runs.c.centre_id == centre_id, invoice_runs.c.state == "approved")):
        approved = InvoicePeriod(other.period_first, other.months)
        if other.id != run_id and approved.first < period.end and period.first < approved.end:
            raise InvoiceRefused(
                f"Perioden overlapper fakturakjøring {other.id} ({approved.first:%m.%Y}, {approved.months} mnd), "
                "som er godkjent: en måned faktureres én gang.", "overlaps_approved", run=other.id,
                first=f"{approved.first:%m.%Y}", months=approved.months)


def _run_state(conn: Connection, run_id: int):
    return conn.execute(select(invoice_runs.c.state, invoice_runs.c.centre_id, invoice_runs.c.period_first,
                               invoice_runs.c.months).where(invoice_runs.c.id == run_id)).first()


def approve(conn: Connection, run_id: int, *, actor: str, now: datetime) -> None:
    row = _run_state(conn, run_id)
    if row is not None:
        _lock_runs(conn, row.centre_id)
        row = _run_state(conn, run_id)  # as it is now that no other change of the centre's runs is under way
    if row is None:
        raise InvoiceRefused("Fakturakjøringen finnes ikke.", "no_run")
    if row.state == "approved":
        raise InvoiceRefused("Fakturakjøringen er allerede godkjent og kan ikke endres.", "already_approved")
    _refuse_overlap(conn, row.centre_id, InvoicePeriod(row.period_first, row.months), run_id=run_id)
    conn.execute(update(invoice_runs).where(invoice_runs.c.id == run_id, invoice_runs.c.state == "draft")
                 .values(state="approved", approved_at=now, approved_by=actor))
    audit.append(conn, now=now, actor=actor, action=audit.UPDATE, purpose=PURPOSE,
                 details={"entity": "invoice_run", "run": run_id, "state": "approved"})


def discard(conn: Connection, run_id: int, *, actor: str, now: datetime) -> None:
    row = _run_state(conn, run_id)
    if row is not None:
        _lock_runs(conn, row.centre_id)
        row = _run_state(conn, run_id)
    if row is None:
        raise InvoiceRefused("Fakturakjøringen finnes ikke.", "no_run")
    if row.state == "approved":
        raise InvoiceRefused("En godkjent fakturakjøring kan ikke slettes.", "approved_kept")
    conn.execute(delete(invoice_runs).where(invoice_runs.c.id == run_id))
    audit.append(conn, now=now, actor=actor, action=audit.DELETE, purpose=PURPOSE,
                 details={"entity": "invoice_run", "run": run_id})


@dataclass(frozen=True)
class StoredLine:
    id: int
    municipality_id: int
    component: int
    kind: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal | None
    amount: Decimal
    due_on: date | None
    basis: dict


def stored_lines(conn: Connection, run_id: int, municipality_ids: frozenset[int] | None = None) -> list[StoredLine]:
    """The run's lines, without the recipients they counted (``counted_recipients``)."""
    columns = [c for c in invoice_lines.c if c.name != "recipients"]
    query = select(*columns).where(invoice_lines.c.run_id == run_id).order_by(
        invoice_lines.c.municipality_id, invoice_lines.c.component)
    if municipality_ids is not None:
        query = query.where(invoice_lines.c.municipality_id.in_(sorted(municipality_ids)))
    return [StoredLine(r.id, r.municipality_id, r.component, r.kind, r.description, Decimal(r.quantity), r.unit,
                       None if r.unit_price_ore is None else Decimal(r.unit_price_ore) / 100,
                       Decimal(r.amount_ore) / 100, r.due_on, r.basis) for r in conn.execute(query)]


def counted_recipients(conn: Connection, line_id: int) -> dict[int, int]:
    """The recipients a per-user line counted and their active days (empty for other lines)."""
    stored = conn.execute(select(invoice_lines.c.recipients).where(invoice_lines.c.id == line_id)).scalar()
    return {int(rid): int(days) for rid, days in stored or []}


def differences(approved: list[StoredLine], computed: list[ComputedLine]) -> list[Difference]:
    """Line by line (municipality, component), what changed since the approved run."""
    before = {(s.municipality_id, s.component): s for s in approved}
    after = {(c.municipality_id, c.line.component): c for c in computed}
    found = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        old_amount = old.amount if old else None
        new_amount = new.line.amount if new else None
        if old_amount != new_amount:
            description = (new.line.description if new else old.description)
            found.append(Difference(key[0], description, old_amount, new_amount))
    return found


def _ore(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


# --- for a server's pages (economy/pages.py) ----------------------------------------------


def runs(conn: Connection, *, approved_only: bool) -> list:
    """The runs, newest period first; a municipality's administrator sees approved ones only."""
    query = select(invoice_runs).order_by(invoice_runs.c.period_first.desc(), invoice_runs.c.id.desc())
    if approved_only:
        query = query.where(invoice_runs.c.state == "approved")
    return conn.execute(query).all()


def visible(document, municipality_ids: frozenset[int] | None) -> bool:
    """Whether a run (``reports.invoices.load``, limited to ``municipality_ids``) may be shown:
    the host (None) sees every run; a municipality sees approved runs with lines of its own."""
    if document is None:
        return False
    return municipality_ids is None or (document.state == "approved" and bool(document.lines))


def only_centre_id(conn: Connection) -> int:
    """The centre a page computes for: the only one (the CLI takes ``--centre`` where there are several)."""
    ids = economy.centre_ids(conn)
    if len(ids) != 1:
        raise InvoiceRefused(f"Det er {len(ids)} responssentre; velg med kommandolinjen (--centre).",
                             "centres", count=len(ids))
    return ids[0]


def compute_and_store(engine: Engine, period: InvoicePeriod, *, actor: str, clock: Callable[[], datetime]) -> RunOutcome:
    """``run`` for a server. Not through the alarm journal: a run reads every recipient and a
    year of alarms. It is computed on a read connection and stored in a short write
    transaction of its own."""
    with engine.connect() as conn:
        centre_id = only_centre_id(conn)
        computed = compute(conn, centre_id, period)
    with write_transaction(engine) as conn:
        return store(conn, centre_id, period, computed, actor=actor, now=clock())


def change_in_own_transaction(engine: Engine, change: Callable[..., None], run_id: int, *, actor: str,
                              now: datetime) -> None:
    """``approve`` or ``discard`` for a server, in a short write transaction of its own, as
    ``compute_and_store``: not in the alarm journal, where the runs' lock would make a batch
    of alarms wait for a run being stored, and take the audit log's lock in the other order."""
    with write_transaction(engine) as conn:
        change(conn, run_id, actor=actor, now=now)


def line_owner(conn: Connection, line_id: int):
    """The line's ``run_id`` and ``municipality_id``, or None."""
    return conn.execute(select(invoice_lines.c.run_id, invoice_lines.c.municipality_id)
                        .where(invoice_lines.c.id == line_id)).first()


def line_contents(conn: Connection, line: StoredLine, period: InvoicePeriod) -> tuple[list, list]:
    """What a line counted: (people, events). People: (id, given name, family name, active
    days) by name, for a per-user line; events: the alarms of a per-event line, the look-ins
    of a per-supervision line."""
    people, events = [], []
    if line.kind == "per_user_month":
        days = counted_recipients(conn, line.id)
        people = sorted(((r.id, r.given_name, r.family_name, days[r.id]) for r in economy.recipient_names(conn, days)),
                        key=lambda p: (p[2], p[1], p[0]))
    elif line.kind == "per_event":
        events = economy.events_counted(conn, line.municipality_id, line.basis["alarm_types"], period)
    elif line.kind == "per_supervision":
        events = economy.supervisions_counted(conn, line.municipality_id, period)
    return people, events


def record_line_look(conn: Connection, line: StoredLine, *, recipients: int, actor: str, now: datetime) -> None:
    """Names are personal data: a look at what a line counted is audited before it is shown."""
    audit.append(conn, now=now, actor=actor, action=audit.EXPORT, municipality_id=line.municipality_id,
                 purpose=PURPOSE, details={"entity": "invoice_line", "line": line.id, "recipients": recipients})
