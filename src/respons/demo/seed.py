"""A demo response centre: municipalities, agreements, zones, people, devices and staff.

Everything is invented except the municipalities (real names, kommunenummer and
approximate populations in Agder, where Kristiansand responssenter is the host). Every
national identity number is synthetic (month + 80), so the demo database provably
holds no real person. Phone numbers are syntactically valid Norwegian mobile numbers
drawn at random: they may well belong to someone, so a demo must never call or text them.

The service models follow seed 000 (§1 and §8) and seed 001 (Kristiansand lets a
municipality combine full response and backup by time of day; the Farsund pilot routes
directly to home care with the centre as backup after 4 minutes).

Agreement windows use Oslo wall-clock times; ``ends < starts`` runs past midnight, and
``starts == ends`` (both 00:00 here) is the whole day.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine, Table, func, insert, null, select, text
from sqlalchemy.engine import Connection


from respons.auth.audit import GENESIS_HASH
from respons.store.tables import audit_head
from respons.demo.alarm_unit import DEMO_UNIT_URI
from respons.demo.supervision import seed_supervision
from respons.demo.users import describe_demo_users, seed_demo_users
from respons.domain.alarm_types import Category
from respons.domain.identity import synthetic_national_id
from respons.domain.phones import InvalidPhoneNumber, normalise_phone
from respons.store.db import is_postgres, write_transaction
from respons.store.tables import (
    agreement_windows,
    agreements,
    budgets,
    centres,
    contacts,
    deflators,
    devices,
    metadata,
    municipalities,
    price_models,
    recipients,
    service_periods,
    staff,
    zones,
)

CENTRE_NAME = "Kristiansand responssenter"
DEMO_BUDGET = "systemer"
AGREEMENT_START = date(2025, 1, 1)
MIN_RECIPIENTS_PER_MUNICIPALITY = 150
RECIPIENT_CHUNK = 500
INSERT_CHUNK = 1000
HEARTBEAT_INTERVAL_S = 86400
HEARTBEAT_GRACE_S = 3600

# Tables seeded with explicit ids (so children can refer to them without reading back):
# on PostgreSQL their sequences must be moved past those ids afterwards.
EXPLICIT_ID_TABLES: tuple[Table, ...] = (
    centres, municipalities, agreements, agreement_windows, zones, recipients, contacts, devices, staff,
)

# --- municipalities and agreements ----------------------------------------------------

ALL_DAY = (time(0, 0), time(0, 0))
DAY = (time(8, 0), time(22, 0))
NIGHT = (time(22, 0), time(8, 0))

# The centre does not do digital home follow-up: Agder uses the telemedicine centre in
# Arendal for it (seed 001), so MEASUREMENT is covered by no window.
CARE = (
    Category.ASSISTANCE,
    Category.FALL,
    Category.SENSOR,
    Category.FIRE,
    Category.MEDICATION,
    Category.LOCATION,
    Category.SUPERVISION,
)
CARE_EXCEPT_SENSOR = tuple(c for c in CARE if c is not Category.SENSOR)
TECHNICAL = (Category.TECHNICAL,)


@dataclass(frozen=True)
class Window:
    service_model: int  # 1 full response, 2 routing with backup, 3 routing without backup
    hours: tuple[time, time]
    categories: tuple[Category, ...]
    escalation_minutes: int | None = None


@dataclass(frozen=True)
class MunicipalitySpec:
    number: str
    name: str
    population: int
    role: str
    latitude: float
    longitude: float
    postal_code: str
    city: str
    zones: tuple[str, ...]
    windows: tuple[Window, ...]
    agreement_notes: str

    @property
    def code(self) -> str:
        return self.name[:3].upper()


FULL_RESPONSE_ALL_DAY = (Window(1, ALL_DAY, CARE + TECHNICAL),)

MUNICIPALITIES: tuple[MunicipalitySpec, ...] = (
    MunicipalitySpec(
        "4204", "Kristiansand", 116_000, "host", 58.1467, 7.9956, "4611", "Kristiansand S",
        ("Sentrum", "Lund", "Vågsbygd", "Randesund", "Hånes og Tveit", "Søgne"),
        FULL_RESPONSE_ALL_DAY,
        "Vertskommune. Full responssentertjeneste hele døgnet.",
    ),
    MunicipalitySpec(
        "4223", "Vennesla", 15_500, "cooperating", 58.2686, 7.9728, "4700", "Vennesla",
        ("Vennesla sentrum", "Moseidmoen", "Hægeland og Øvrebø"),
        FULL_RESPONSE_ALL_DAY,
        "Full responssentertjeneste hele døgnet.",
    ),
    MunicipalitySpec(
        "4215", "Lillesand", 11_500, "cooperating", 58.2496, 8.3776, "4790", "Lillesand",
        ("Lillesand sentrum", "Høvåg", "Vestre Moland"),
        (
            Window(1, DAY, CARE),
            Window(2, NIGHT, CARE, escalation_minutes=4),
            Window(1, ALL_DAY, TECHNICAL),
        ),
        "Full respons kl. 08–22. Natt: rutingtjeneste med backup, responssenteret svarer "
        "når hjemmetjenesten ikke har svart innen 4 minutter. Tekniske alarmer til responssenteret.",
    ),
    MunicipalitySpec(
        "4206", "Farsund", 9_800, "cooperating", 58.0947, 6.8049, "4550", "Farsund",
        ("Farsund sentrum", "Lista"),
        (
            Window(2, ALL_DAY, CARE, escalation_minutes=4),
            Window(1, ALL_DAY, TECHNICAL),
        ),
        "Rutingtjeneste med backup hele døgnet (videreført fra pilot med direktevarsling): "
        "alarmer går til hjemmetjenesten, responssenteret svarer etter 4 minutter uten svar.",
    ),
    MunicipalitySpec(
        "4216", "Birkenes", 5_300, "cooperating", 58.3336, 8.2322, "4760", "Birkeland",
        ("Birkeland", "Herefoss og Engesland"),
        (
            # Last resort: the centre after 30 minutes if nobody on duty takes it.
            Window(3, DAY, (Category.SENSOR,), escalation_minutes=30),
            Window(1, NIGHT, (Category.SENSOR,)),
            Window(1, ALL_DAY, CARE_EXCEPT_SENSOR + TECHNICAL),
        ),
        "Sensorvarsler kl. 08–22 rutes direkte til hjemmetjenesten (uten backup). "
        "Full responssentertjeneste for alt annet, og for sensorvarsler om natten.",
    ),
)

# --- invented people -----------------------------------------------------------------------

GIVEN_FEMALE = (
    "Kari", "Ingrid", "Anne", "Liv", "Solveig", "Astrid", "Bjørg", "Randi", "Marit", "Gerd",
    "Berit", "Inger", "Ragnhild", "Gunvor", "Turid", "Else", "Aud", "Åse", "Sigrid", "Jorunn",
    "Margit", "Torill", "Reidun", "Synnøve", "Oddbjørg", "Gunhild", "Signe", "Tove", "Eldbjørg", "Karin",
)
GIVEN_MALE = (
    "Ole", "Arne", "Kjell", "Olav", "Per", "Bjørn", "Svein", "Jan", "Knut", "Hans",
    "Odd", "Tor", "Rolf", "Egil", "Leif", "Terje", "Kåre", "Harald", "Einar", "Magne",
    "Sigmund", "Torleif", "Gunnar", "Asbjørn", "Reidar", "Trygve", "Alf", "Tore", "Jostein", "Nils",
)
FAMILY = (
    "Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen",
    "Jensen", "Karlsen", "Pettersen", "Eriksen", "Berg", "Haugen", "Dahl", "Halvorsen",
    "Tønnessen", "Torjussen", "Salvesen", "Aanensen", "Gundersen", "Syvertsen", "Thorsen",
    "Håland", "Vigeland", "Skaar", "Birkeland", "Fidjeland", "Lindeland", "Omdal", "Reinertsen",
    "Abrahamsen", "Stray", "Eikeland", "Kvinlaug", "Mjåland", "Ravnevand", "Sødal",
)

# Recipients whose main language is not Norwegian (the operator needs to know).
FOREIGN_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "en": (("Margaret", "Susan", "Elizabeth"), ("John", "David", "Robert"), ("Smith", "Brown", "Taylor", "Wilson")),
    "ar": (("Fatima", "Amina", "Layla"), ("Ahmed", "Mohammed", "Youssef"), ("Hassan", "Haddad", "Khalil", "Ali")),
    "pl": (("Krystyna", "Barbara", "Danuta"), ("Jan", "Andrzej", "Tadeusz"), ("Nowak", "Wójcik", "Mazur", "Krawczyk")),
    "so": (("Hodan", "Fadumo", "Asha"), ("Abdi", "Mahad", "Hassan"), ("Mohamed", "Warsame", "Farah", "Osman")),
}
LANGUAGE_WEIGHTS = {"nb": 94.0, "en": 1.5, "ar": 1.5, "pl": 1.5, "so": 1.5}

STREETS = (
    "Kirkeveien", "Skoleveien", "Bakkeveien", "Granveien", "Bjørkeveien", "Furuveien", "Lyngveien",
    "Solbakken", "Fjellveien", "Strandveien", "Heiveien", "Kløverveien", "Prestebakken", "Åsveien",
    "Eikeveien", "Rosevika", "Måkeveien", "Tjønnveien", "Lindeveien", "Elvegata", "Storgata",
    "Nyveien", "Bekkeveien", "Vardeveien", "Sjøgata", "Lunddalsveien", "Fagerheia", "Lyngbakken",
)

KEY_BOXES = (
    ("Nøkkelboks ved inngangsdør, kode gis av operatør", 50.0),
    ("Nøkkelboks på veggen ved garasjen, kode gis av operatør", 12.0),
    ("Ingen nøkkelboks – nøkkel hos hjemmetjenesten", 20.0),
    ("Ingen nøkkelboks – nøkkel hos nabo (se pårørende)", 8.0),
    ("Elektronisk dørlås, åpnes av hjemmetjenesten med app", 10.0),
)

RESPONSE_NOTES = (
    "Hørselshemmet – snakk høyt og tydelig",
    "Hund i huset (snill, men bjeffer)",
    "Katt i huset – lukk døren etter deg",
    "Bruker rollator",
    "Rullestolbruker",
    "Demens – kan virke forvirret og glemme at alarmen er utløst",
    "Svaksynt",
    "Diabetes type 2",
    "Oksygenbehandling – ingen åpen flamme",
    "Nedsatt førlighet i høyre side etter hjerneslag",
    "Bor i 2. etasje uten heis",
    "Ektefelle bor i samme hus og trenger også tilsyn",
)
DEMENTIA_NOTE = RESPONSE_NOTES[5]
NEEDS_INTERPRETER = "Snakker lite norsk – bruk tolk ved behov"

ELDERLY_RELATIONS = (
    ("datter", 30.0), ("sønn", 28.0), ("ektefelle", 12.0), ("barnebarn", 8.0), ("svigerdatter", 4.0),
    ("nabo", 8.0), ("niese", 3.0), ("nevø", 3.0), ("venn", 4.0),
)
YOUNGER_RELATIONS = (
    ("ektefelle", 25.0), ("samboer", 10.0), ("mor", 12.0), ("far", 8.0), ("søster", 12.0),
    ("bror", 12.0), ("datter", 8.0), ("sønn", 8.0), ("nabo", 5.0),
)
FEMALE_RELATIONS = {"datter", "mor", "søster", "svigerdatter", "niese"}
MALE_RELATIONS = {"sønn", "far", "bror", "nevø"}
SAME_FAMILY_NAME = {"sønn", "ektefelle", "bror", "far"}
CONTACT_NOTES = (
    "Har nøkkel til boligen",
    "Bor i Oslo – ring, men kan ikke komme raskt",
    "Best å nå etter kl. 16",
    "Jobber turnus, kan være vanskelig å nå på dagtid",
)

# --- devices -----------------------------------------------------------------------------

DEVICE_PREFIX = {
    "safety_alarm": "TA",
    "fall_sensor": "FS",
    "door_sensor": "DS",
    "smoke_detector": "SD",
    "bed_sensor": "BS",
    "gps_tracker": "GPS",
    "medication_dispenser": "MD",
}
# Chance that a recipient has the device in addition to the safety alarm. People with
# dementia more often get door sensors, GPS and bed sensors (wandering at night).
EXTRA_DEVICE_CHANCE = {
    "fall_sensor": (0.10, 0.15),
    "door_sensor": (0.04, 0.50),
    "smoke_detector": (0.12, 0.20),
    "bed_sensor": (0.03, 0.20),
    "gps_tracker": (0.02, 0.25),
    "medication_dispenser": (0.05, 0.20),
}
# Sensors whose alarms next of kin may take (docs/messages.md): the demo gives them to them.
KIN_SENSORS = ("door_sensor", "bed_sensor")
SPARE_SHARE = 0.02


# --- entry point -------------------------------------------------------------------------


def seed_demo(
    engine: Engine,
    *,
    now: datetime,
    seed: int = 1,
    recipients: int = 3000,
    reset: bool = False,
    console: Console | None = None,
    history_days: int = 0,
) -> str:
    """Fill a migrated database with a demo response centre; return a short summary.

    ``history_days``: invent that many days of handled alarms before ``now``
    (``demo/history.py``), so the statistics pages have months to show."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if recipients < 0:
        raise ValueError("recipients must not be negative")
    now = now.astimezone(timezone.utc)
    with write_transaction(engine) as conn:
        if reset:
            _delete_everything(conn)
        elif conn.execute(select(func.count()).select_from(municipalities)).scalar_one():
            return (
                "Demo data is already there (the database has municipalities); use --reset to recreate it.\n"
                + describe_demo_users(now=now)
            )
        seeder = _Seeder(conn, random.Random(seed), now)
        with _progress(console) as progress:
            counts = seeder.run(recipients, progress)
        if is_postgres(conn):
            _move_sequences_past_explicit_ids(conn, EXPLICIT_ID_TABLES)
        seed_demo_users(conn, now=now)
        counts["supervision_plans"] = seed_supervision(conn, now=now) if counts["recipients"] >= 33 else 0
        history = _history(conn, now=now, days=history_days, seed=seed) if history_days else 0
    return (
        f"Demo data: {counts['centres']} centre, {counts['municipalities']} municipalities, "
        f"{counts['recipients']} recipients, {counts['devices']} devices ({counts['spare_devices']} spare), "
        f"{counts['contacts']} contacts, {counts['staff']} staff, {counts['supervision_plans']} supervision plans"
        + (f", {history} handled alarms over the last {history_days} days. " if history else ". ") +
        "All people are invented; national identity numbers are synthetic (month + 80).\n"
        + describe_demo_users(now=now)
    )


def _history(conn: Connection, *, now: datetime, days: int, seed: int) -> int:
    from respons.demo.history import Staff, seed_history
    from respons.store.tables import role_grants

    def actors(role: str) -> tuple[str, ...]:
        ids = conn.execute(select(role_grants.c.user_id).where(role_grants.c.role == role).order_by(role_grants.c.user_id))
        return tuple(f"user:{i}" for i in ids.scalars())

    staff = Staff(operators=actors("operator") or ("user:0",), responders=actors("responder"))
    return seed_history(conn, now=now, days=days, rng=random.Random(seed * 7919), specs=MUNICIPALITIES, staff=staff)


def spread_by_population(total: int, populations: Sequence[int], minimum: int = MIN_RECIPIENTS_PER_MUNICIPALITY) -> list[int]:
    """Split ``total`` by population share, giving each at least ``minimum`` when there are enough.

    Largest-remainder rounding, so the parts always add up to ``total``.
    """
    if not populations:
        return []
    floor = min(minimum, total // len(populations))
    rest = total - floor * len(populations)
    quotas = [rest * p / sum(populations) for p in populations]
    parts = [int(q) for q in quotas]
    by_remainder = sorted(range(len(parts)), key=lambda i: quotas[i] - parts[i], reverse=True)
    for i in by_remainder[: rest - sum(parts)]:
        parts[i] += 1
    return [floor + p for p in parts]


def _delete_everything(conn: Connection) -> None:
    _delete_invoices(conn)
    for table in reversed(metadata.sorted_tables):
        conn.execute(table.delete())
    # A new demo starts a new audit chain from the genesis head (as migration 0002 does).
    conn.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS_HASH))


def _delete_invoices(conn: Connection) -> None:
    """Approved invoice runs are guarded by triggers against every DELETE (migration 0008); a
    demo reset is the one place that may remove them. PostgreSQL's TRUNCATE fires no row
    triggers; SQLite has no TRUNCATE, so its guards are dropped and put back as they were, in
    the same transaction."""
    tables = "invoice_lines, invoice_runs"
    if is_postgres(conn):
        conn.execute(text(f"TRUNCATE {tables}"))
        return
    guards = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                               "AND tbl_name IN ('invoice_runs', 'invoice_lines')")).all()
    for name, _ in guards:
        conn.execute(text(f'DROP TRIGGER "{name}"'))
    for table in tables.split(", "):
        conn.execute(text(f"DELETE FROM {table}"))
    for _, sql in guards:
        conn.execute(text(sql))


def _move_sequences_past_explicit_ids(conn: Connection, tables: Sequence[Table]) -> None:
    # Without this, the next insert without an id would get id 1 and collide.
    for table in tables:
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 1), "
                f"(SELECT MAX(id) FROM {table.name}) IS NOT NULL)"
            )
        )


class _NoProgress:
    def add_task(self, *_args, **_kwargs) -> int:
        return 0

    def advance(self, *_args, **_kwargs) -> None:
        pass

    def __enter__(self) -> "_NoProgress":
        return self

    def __exit__(self, *_exc) -> None:
        pass


def _progress(console: Console | None) -> Progress | _NoProgress:
    if console is None:
        return _NoProgress()
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _chunks(rows: list[dict], size: int = INSERT_CHUNK) -> Iterator[list[dict]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


# --- the seeder ----------------------------------------------------------------------------


@dataclass
class _Person:
    given: str
    family: str
    female: bool
    language: str


class _Seeder:
    """Generates rows in a fixed order from one random generator, so a seed is repeatable."""

    def __init__(self, conn: Connection, rng: random.Random, now: datetime):
        self.conn = conn
        self.rng = rng
        self.now = now
        self.today = now.date()
        self.next_id = {t.name: self._max_id(t) + 1 for t in EXPLICIT_ID_TABLES}
        self.national_ids: set[str] = set()
        self.device_serial = {kind: 0 for kind in DEVICE_PREFIX}
        self.counts = {k: 0 for k in ("centres", "municipalities", "recipients", "devices", "spare_devices", "contacts", "staff")}
        self.service_rng = random.Random(4712)

    def _max_id(self, table: Table) -> int:
        return self.conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()

    def _take_id(self, table: Table) -> int:
        value = self.next_id[table.name]
        self.next_id[table.name] = value + 1
        return value

    def _insert(self, table: Table, rows: list[dict]) -> None:
        for chunk in _chunks(rows):
            self.conn.execute(insert(table), chunk)

    # -- orchestration

    def run(self, total_recipients: int, progress) -> dict[str, int]:
        task = progress.add_task("Creating demo recipients", total=total_recipients)
        centre_id = self._centre()
        self._economy_years(centre_id)
        shares = spread_by_population(total_recipients, [m.population for m in MUNICIPALITIES])
        for spec, n_recipients in zip(MUNICIPALITIES, shares):
            municipality_id = self._municipality(spec, centre_id)
            zone_ids = self._zones(spec, municipality_id)
            self._recipients(spec, municipality_id, zone_ids, n_recipients, lambda n: progress.advance(task, n))
            self._staff(spec, municipality_id, zone_ids, n_recipients)
        return self.counts

    def _centre(self) -> int:
        centre_id = self._take_id(centres)
        self._insert(centres, [{"id": centre_id, "name": CENTRE_NAME, "phone": self._landline(), "created_at": self.now}])
        self.counts["centres"] += 1
        return centre_id

    def _municipality(self, spec: MunicipalitySpec, centre_id: int) -> int:
        municipality_id = self._take_id(municipalities)
        self._insert(municipalities, [{
            "id": municipality_id, "number": spec.number, "name": spec.name, "population": spec.population,
            "role": spec.role, "centre_id": centre_id, "created_at": self.now,
        }])
        agreement_id = self._take_id(agreements)
        self._insert(agreements, [{
            "id": agreement_id, "municipality_id": municipality_id, "centre_id": centre_id,
            "valid_from": AGREEMENT_START, "valid_to": None, "notes": spec.agreement_notes, "created_at": self.now,
        }])
        self._insert(agreement_windows, [
            {
                "id": self._take_id(agreement_windows), "agreement_id": agreement_id,
                "service_model": w.service_model, "weekdays": "1234567",
                "starts": w.hours[0], "ends": w.hours[1],
                "categories": [c.value for c in w.categories], "escalation_minutes": w.escalation_minutes,
            }
            for w in spec.windows
        ])
        self._price_model(spec, agreement_id)
        self.counts["municipalities"] += 1
        return municipality_id

    # -- economy: a price model per agreement, a budget to split and deflators (docs/economy.md)

    def _price_model(self, spec: MunicipalitySpec, agreement_id: int) -> None:
        backup_only = all(w.service_model == 2 for w in spec.windows if Category.ASSISTANCE in w.categories)
        components = [
            {"kind": "per_user_month", "price": "32.74" if backup_only else "106.97",
             "label": "Kun backup" if backup_only else "Full responstjeneste"},
            {"kind": "per_event", "price": "12.50", "label": "GPS", "alarm_types": ["geofence_exit"]},
            {"kind": "per_supervision", "price": "45.00", "label": "Digitalt tilsyn"},
            {"kind": "budget_share", "budget": DEMO_BUDGET, "label": "Andel av systemkostnader"},
        ]
        if spec.role == "cooperating":
            components.append({"kind": "per_inhabitant", "price": "3.00", "due": "01-15"})
        self._insert(price_models, [{"agreement_id": agreement_id, "valid_from": AGREEMENT_START,
                                     "base_year": AGREEMENT_START.year, "components": components,
                                     "notes": "Demo", "created_at": self.now, "created_by": "demo"}])

    def _economy_years(self, centre_id: int) -> None:
        years = range(AGREEMENT_START.year, self.today.year + 1)
        self._insert(budgets, [{"centre_id": centre_id, "year": y, "name": DEMO_BUDGET, "amount_ore": 300_000_000,
                                "fixed_share": "0.15"} for y in years])
        # Example rates, not the published deflator: an administrator enters the real ones.
        self._insert(deflators, [{"year": y, "rate": "0.043", "source": "Demo: eksempel, ikke publisert deflator"}
                                 for y in years if y > AGREEMENT_START.year])

    def _zones(self, spec: MunicipalitySpec, municipality_id: int) -> list[int]:
        rows = [
            {"id": self._take_id(zones), "municipality_id": municipality_id, "code": f"{spec.code}-{i:02d}", "name": name}
            for i, name in enumerate(spec.zones, start=1)
        ]
        self._insert(zones, rows)
        return [r["id"] for r in rows]

    def _recipients(
        self, spec: MunicipalitySpec, municipality_id: int, zone_ids: list[int], count: int, advance
    ) -> None:
        devices_in_use = 0
        for start in range(0, count, RECIPIENT_CHUNK):
            size = min(RECIPIENT_CHUNK, count - start)
            people, contact_rows, chunk_devices, periods = [], [], [], []
            for _ in range(size):
                row, person, elderly = self._recipient_row(spec, municipality_id, zone_ids)
                people.append(row)
                periods.append(self._service_period_row(row))
                kin = self._contact_rows(row, person, elderly)
                contact_rows.extend(kin)
                worn = self._device_rows(row)
                chunk_devices.extend(worn)
                # Half the people with a door or bed sensor have their first contact take its
                # alarms (decided by the id, not the generator, so the rest of the demo stays
                # as it was), so the demo shows next of kin asked by SMS.
                if row["id"] % 2 == 0 and any(d["kind"] in KIN_SENSORS for d in worn) and kin:
                    kin[0]["receives_alarms"] = True
                # A contact who takes alarms takes the sensors' (a door left open, no movement):
                # those go to them by SMS first, and to the centre unless one of them confirms.
                row["kin_categories"] = ["sensor"] if any(c["receives_alarms"] for c in kin) else null()
            # Parents before children: contacts and devices refer to the recipients.
            self._insert(recipients, people)
            self._insert(contacts, contact_rows)
            self._insert(devices, chunk_devices)
            self._insert(service_periods, periods)
            devices_in_use += len(chunk_devices)
            self.counts["recipients"] += size
            self.counts["contacts"] += len(contact_rows)
            self.counts["devices"] += len(chunk_devices)
            advance(size)
        spares = self._spare_device_rows(municipality_id, devices_in_use)
        self._insert(devices, spares)
        self.counts["devices"] += len(spares)
        self.counts["spare_devices"] += len(spares)

    # -- service periods

    def _service_period_row(self, recipient: dict) -> dict:
        # Its own generator (adding service periods must not change the people). Most have had the service for years; one in
        # twenty started in the last three months, so a demo invoice has part months in it.
        rng = self.service_rng
        days_ago = rng.randrange(1, 90) if rng.random() < 0.05 else rng.randrange(365, 6 * 365)
        return {"recipient_id": recipient["id"], "starts_on": self.today - timedelta(days=days_ago), "ends_on": None}

    # -- recipients

    def _recipient_row(
        self, spec: MunicipalitySpec, municipality_id: int, zone_ids: list[int]
    ) -> tuple[dict, _Person, bool]:
        rng = self.rng
        elderly = rng.random() < 0.93
        age = min(100, int(rng.triangular(67, 101, 86))) if elderly else rng.randint(40, 66)
        birth_date = self._birth_date(age)
        person = self._invent_person(self._language())
        notes = rng.sample(RESPONSE_NOTES, k=rng.choices((0, 1, 2), weights=(60, 30, 10))[0])
        if person.language != "nb":
            notes.append(NEEDS_INTERPRETER)
        row = {
            "id": self._take_id(recipients),
            "municipality_id": municipality_id,
            "zone_id": rng.choice(zone_ids),
            "national_id": self._unique_national_id(birth_date),
            "given_name": person.given,
            "family_name": person.family,
            "birth_date": birth_date,
            "phone": self._mobile() if rng.random() < 0.55 else None,
            "address": self._address(),
            "postal_code": spec.postal_code,
            "city": spec.city,
            "latitude": round(spec.latitude + rng.gauss(0, 0.02), 6),
            "longitude": round(spec.longitude + rng.gauss(0, 0.04), 6),
            "key_box": rng.choices([k for k, _ in KEY_BOXES], weights=[w for _, w in KEY_BOXES])[0],
            "language": person.language,
            "response_notes": ". ".join(notes) + "." if notes else None,
            "active": True,
            "created_at": self.now,
            "updated_at": self.now,
        }
        return row, person, elderly

    def _birth_date(self, age: int) -> date:
        year = self.today.year - age
        birth = date(year, 1, 1) + timedelta(days=self.rng.randrange(365))
        return min(birth, self.today)

    def _unique_national_id(self, birth_date: date) -> str:
        while True:
            number = synthetic_national_id(birth_date, self.rng)
            if number not in self.national_ids:
                self.national_ids.add(number)
                return number

    def _language(self) -> str:
        return self.rng.choices(list(LANGUAGE_WEIGHTS), weights=list(LANGUAGE_WEIGHTS.values()))[0]

    def _invent_person(self, language: str, *, female: bool | None = None, family: str | None = None) -> _Person:
        rng = self.rng
        if female is None:
            female = rng.random() < 0.65  # most safety-alarm users are women
        if language == "nb":
            given_f, given_m, families = GIVEN_FEMALE, GIVEN_MALE, FAMILY
        else:
            given_f, given_m, families = FOREIGN_NAMES[language]
        given = rng.choice(given_f if female else given_m)
        return _Person(given=given, family=family or rng.choice(families), female=female, language=language)

    def _address(self) -> str:
        number = self.rng.randint(1, 120)
        letter = self.rng.choice("ABC") if self.rng.random() < 0.12 else ""
        return f"{self.rng.choice(STREETS)} {number}{letter}"

    # -- contacts

    def _contact_rows(self, recipient: dict, person: _Person, elderly: bool) -> list[dict]:
        rng = self.rng
        relations = ELDERLY_RELATIONS if elderly else YOUNGER_RELATIONS
        count = rng.choices((1, 2, 3), weights=(35, 45, 20))[0]
        rows = []
        chosen: set[str] = set()
        for priority in range(1, count + 1):
            relation = rng.choices([r for r, _ in relations], weights=[w for _, w in relations])[0]
            if relation in ("ektefelle", "samboer") and chosen & {"ektefelle", "samboer"}:
                relation = "nabo"
            chosen.add(relation)
            contact = self._relative(person, relation)
            rows.append({
                "id": self._take_id(contacts),
                "municipality_id": recipient["municipality_id"],
                "recipient_id": recipient["id"],
                "name": f"{contact.given} {contact.family}",
                "relation": relation,
                "phone": self._mobile(),
                "priority": priority,
                "receives_alarms": priority == 1 and rng.random() < 0.12,
                "notes": rng.choice(CONTACT_NOTES) if rng.random() < 0.15 else None,
            })
        return rows

    def _relative(self, person: _Person, relation: str) -> _Person:
        if relation in FEMALE_RELATIONS:
            female = True
        elif relation in MALE_RELATIONS:
            female = False
        elif relation in ("ektefelle", "samboer"):
            female = not person.female
        else:
            female = None
        if relation in ("nabo", "venn"):
            return self._invent_person("nb", female=female)
        family = person.family if relation in SAME_FAMILY_NAME or self.rng.random() < 0.5 else None
        return self._invent_person(person.language, female=female, family=family)

    # -- devices

    def _device_rows(self, recipient: dict) -> list[dict]:
        dementia = DEMENTIA_NOTE in (recipient["response_notes"] or "")
        kinds = ["safety_alarm"] + [
            kind for kind, (usual, with_dementia) in EXTRA_DEVICE_CHANCE.items()
            if self.rng.random() < (with_dementia if dementia else usual)
        ]
        return [self._device_row(recipient["municipality_id"], recipient["id"], kind) for kind in kinds]

    def _spare_device_rows(self, municipality_id: int, in_use: int) -> list[dict]:
        count = max(1, round(in_use * SPARE_SHARE)) if in_use else 0
        kinds = [
            "safety_alarm" if self.rng.random() < 0.7 else self.rng.choice(list(EXTRA_DEVICE_CHANCE))
            for _ in range(count)
        ]
        return [self._device_row(municipality_id, None, kind) for kind in kinds]

    def _device_row(self, municipality_id: int, recipient_id: int | None, kind: str) -> dict:
        self.device_serial[kind] += 1
        in_use = recipient_id is not None
        return {
            "id": self._take_id(devices),
            "municipality_id": municipality_id,
            "recipient_id": recipient_id,
            "kind": kind,
            "protocol": "http",
            "identity": f"{DEVICE_PREFIX[kind]}-{self.device_serial[kind]:07d}",
            "heartbeat_interval_s": HEARTBEAT_INTERVAL_S,
            "heartbeat_grace_s": HEARTBEAT_GRACE_S,
            # A spare on the shelf sends no heartbeats; giving it a deadline would raise a
            # "device silent" alarm for a device nobody wears.
            "last_seen_at": self.now if in_use else None,
            "alert_after": self.now + timedelta(seconds=HEARTBEAT_INTERVAL_S + HEARTBEAT_GRACE_S) if in_use else None,
            "active": True,
            "created_at": self.now,
            # The demo's one simulated unit answers the centre's call-back for every worn
            # safety alarm (demo/voice.py; `respons serve --demo-voice`).
            "voice_uri": DEMO_UNIT_URI if in_use and kind == "safety_alarm" else None,
        }

    # -- staff

    def _staff(self, spec: MunicipalitySpec, municipality_id: int, zone_ids: list[int], n_recipients: int) -> None:
        rng = self.rng
        rows = []

        def add(role: str, competence: str, zone_id: int | None) -> None:
            person = self._invent_person("nb", female=rng.random() < 0.8 if role != "technician" else rng.random() < 0.2)
            rows.append({
                "id": self._take_id(staff), "municipality_id": municipality_id,
                "name": f"{person.given} {person.family}", "role": role, "competence": competence,
                "phone": self._mobile(), "zone_id": zone_id, "active": True,
            })

        responders = max(3, min(40, n_recipients // 60))
        for i in range(responders):
            competence = rng.choices(("nurse", "health_worker", "assistant"), weights=(35, 45, 20))[0]
            add("responder", competence, zone_ids[i % len(zone_ids)])
        for _ in range(2 if spec.population > 20_000 else 1):
            add("technician", "technician", None)
        if spec.role == "host":
            # Seed 001: at least one operator on duty has a bachelor-level health education.
            for _ in range(12):
                add("operator", rng.choices(("nurse", "health_worker"), weights=(75, 25))[0], None)
        self._insert(staff, rows)
        self.counts["staff"] += len(rows)

    # -- phone numbers

    def _mobile(self) -> str:
        return self._valid_phone(lambda: f"{self.rng.choice('49')}{self.rng.randrange(10_000_000):07d}")

    def _landline(self) -> str:
        # 38: the Agder area's former trunk code, still the start of its landline numbers.
        return self._valid_phone(lambda: f"38{self.rng.randrange(1_000_000):06d}")

    @staticmethod
    def _valid_phone(draw) -> str:
        while True:
            try:
                return normalise_phone(draw())
            except InvalidPhoneNumber:
                continue
