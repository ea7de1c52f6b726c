"""Registry administration: units of work for recipients, contacts, devices, zones, staff,
municipalities and agreements.

Each function takes a Connection (inside the journal's unit of work), ``now`` and the
``actor``, validates through the domain functions, writes the change and its audit record
in the same transaction. ``allowed`` is the set of municipalities the caller administers
(``None``: every municipality, the host administrator); a row outside it is reported as
``NotFound``, exactly like a missing one.

Audit records name the changed *fields*, never their values (no national ids in the log).
The messages of ``Invalid`` problems and ``Conflict`` are in Norwegian bokmål: the API answers
them so, whatever the language (docs/registry.md). Each is also named (a ``Problem``'s key and
parameters, a ``Conflict``'s code) so the registry pages say it in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import re
from datetime import date, datetime, time, timedelta
from typing import Any, Iterable

from sqlalchemy import Connection, case, func, insert, select, update
from stdnum.no import orgnr

from respons.auth import audit
from respons.domain.alarm_types import Category
from respons.domain.routing import agreement_changed
from respons.engine import supervision
from respons.registry.completeness import Gap, RecipientFacts, gaps, is_blank
from respons.domain.identity import InvalidNationalId, parse_national_id
from respons.domain.phones import InvalidPhoneNumber, is_mobile, normalise_phone
from respons.store import queries
from respons.store.db import is_postgres
from respons.store.journal import announce
from respons.domain.dc09_keys import BadKey, parse_key
from respons.store.tables import (
    agreement_windows,
    agreements,
    centres,
    contacts,
    devices,
    municipalities,
    recipients,
    service_periods,
    staff,
    zones,
)

ADMINISTRATION = "administration"

DEVICE_PROTOCOLS = ("http", "sia_dc09", "scaip", "mqtt")
STAFF_ROLES = ("operator", "responder", "technician")
MUNICIPALITY_ROLES = ("host", "cooperating")
ALARM_CATEGORIES = tuple(c.value for c in Category if c is not Category.SYSTEM)  # the centre's own faults: no agreement


# --- errors ----------------------------------------------------------------------------------


class RegistryError(Exception):
    pass


class NotFound(RegistryError):
    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


class Conflict(RegistryError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Problem:
    """One refused field by name: a screen says ``key`` with ``params`` in its reader's
    language (registry/pages.py); ``text`` is the bokmål the API answers."""

    field_name: str
    text: str
    key: str | None = None  # None: not named, a screen can only show ``text``
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Invalid(RegistryError):
    problems: list[dict[str, str]] = field(default_factory=list)  # what the API answers
    named: list[Problem] = field(default_factory=list)  # the same problems, in the same order

    def __str__(self) -> str:
        return "; ".join(f"{p['field']}: {p['problem']}" for p in self.problems)


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []
        self.named: list[Problem] = []

    def add(self, field_name: str, problem: str, key: str | None = None, **params: Any) -> None:
        """``problem`` in bokmål for the API; ``key`` and ``params`` name it for the screens."""
        self.items.append({"field": field_name, "problem": problem})
        self.named.append(Problem(field_name, problem, key, params))

    def raise_any(self) -> None:
        if self.items:
            raise Invalid(self.items, self.named)


def _visible(allowed: frozenset[int] | None, municipality_id: int | None) -> bool:
    return municipality_id is not None and (allowed is None or municipality_id in allowed)


def require_municipality(conn: Connection, municipality_id: int, allowed: frozenset[int] | None) -> None:
    """Missing and outside the caller's scope look the same."""
    if not _visible(allowed, municipality_id):
        raise NotFound("municipality")
    if conn.execute(select(municipalities.c.id).where(municipalities.c.id == municipality_id)).first() is None:
        raise NotFound("municipality")


# --- validation (Norwegian messages) -----------------------------------------------------------


_NATIONAL_ID_PROBLEMS = {
    "length": "Ugyldig fødselsnummer: det må ha nøyaktig 11 sifre",
    "check_digits": "Ugyldig fødselsnummer: kontrollsifrene stemmer ikke",
    "future": "Ugyldig fødselsnummer: fødselsdatoen er fram i tid",
    "birth_date": "Ugyldig fødselsnummer: inneholder ingen gyldig fødselsdato",
}


def national_id_problem(exc: InvalidNationalId) -> str:
    return _NATIONAL_ID_PROBLEMS.get(exc.reason, "Ugyldig fødselsnummer")


def national_id_key(exc: InvalidNationalId) -> str:
    return f"national_id.{exc.reason}" if exc.reason in _NATIONAL_ID_PROBLEMS else "national_id"


def _phone(raw: str | None, field_name: str, problems: _Problems, *, required: bool = False) -> str | None:
    if raw is None or not str(raw).strip():
        if required:
            problems.add(field_name, "Telefonnummer mangler", "phone_missing")
        return None
    try:
        return normalise_phone(str(raw))
    except InvalidPhoneNumber:
        problems.add(field_name, "Ugyldig telefonnummer", "phone_invalid")
        return None


MAX_IDENTITY = 100 - len("device:")


def _text(values: dict[str, Any], name: str, label: str, problems: _Problems, *, max_length: int, required: bool) -> None:
    if name not in values:
        return
    value = values[name]
    if value is None:
        if required:
            problems.add(name, f"{label} må fylles ut", "required")
        return
    value = str(value).strip()
    if required and not value:
        problems.add(name, f"{label} må fylles ut", "required")
    elif len(value) > max_length:
        problems.add(name, f"{label} kan ha høyst {max_length} tegn", "too_long", max_length=max_length)
    values[name] = value if value else None


def _zone_in(conn: Connection, zone_id: int | None, municipality_id: int, problems: _Problems, field_name: str = "zone_id") -> None:
    if zone_id is None:
        return
    row = conn.execute(select(zones.c.id).where(zones.c.id == zone_id, zones.c.municipality_id == municipality_id)).first()
    if row is None:
        problems.add(field_name, "Ukjent sone i denne kommunen", "unknown_zone")


# --- recipients ------------------------------------------------------------------------------

RECIPIENT_FIELDS = (
    "zone_id", "national_id", "given_name", "family_name", "phone", "address", "postal_code", "city",
    "latitude", "longitude", "key_box", "language", "response_notes", "active",
)
_RECIPIENT_TEXT = {
    "given_name": ("Fornavn", 100, True),
    "family_name": ("Etternavn", 100, True),
    "address": ("Adresse", 200, True),
    "city": ("Poststed", 100, True),
    "key_box": ("Nøkkelboks", 2000, False),
    "response_notes": ("Merknader for responstjenesten", 4000, False),
}


def _validate_recipient(conn: Connection, values: dict[str, Any], municipality_id: int, *, today: date,
                        exclude_id: int | None = None) -> None:
    """Validate and normalise ``values`` in place (only the keys present)."""
    problems = _Problems()
    for name, (label, max_length, required) in _RECIPIENT_TEXT.items():
        _text(values, name, label, problems, max_length=max_length, required=required)
    if "national_id" in values:
        try:
            parsed = parse_national_id(str(values["national_id"] or ""), today=today)
        except InvalidNationalId as exc:
            problems.add("national_id", national_id_problem(exc), national_id_key(exc))
        else:
            values["national_id"] = parsed.number
            values["birth_date"] = parsed.birth_date
    if "phone" in values:
        values["phone"] = _phone(values["phone"], "phone", problems)
    if "postal_code" in values:
        code = str(values["postal_code"] or "").strip()
        if len(code) != 4 or not (code.isascii() and code.isdigit()):
            problems.add("postal_code", "Postnummeret må ha fire sifre", "postal_code")
        values["postal_code"] = code
    if values.get("latitude") is not None and not -90 <= values["latitude"] <= 90:
        problems.add("latitude", "Breddegraden må være mellom -90 og 90", "latitude")
    if values.get("longitude") is not None and not -180 <= values["longitude"] <= 180:
        problems.add("longitude", "Lengdegraden må være mellom -180 og 180", "longitude")
    if "language" in values:
        language = str(values["language"] or "").strip()
        if not 2 <= len(language) <= 8:
            problems.add("language", "Ugyldig språkkode", "language")
        values["language"] = language
    if "active" in values and values["active"] is None:
        problems.add("active", "Må være sann eller usann", "boolean")
    if "zone_id" in values:
        _zone_in(conn, values["zone_id"], municipality_id, problems)
    problems.raise_any()
    if "national_id" in values:
        query = select(recipients.c.id).where(recipients.c.national_id == values["national_id"])
        if exclude_id is not None:
            query = query.where(recipients.c.id != exclude_id)
        if conn.execute(query).first() is not None:
            # Never say where: the other recipient may be in another municipality.
            raise Conflict("duplicate_national_id", "Det finnes allerede en tjenestemottaker med dette fødselsnummeret.")


def create_recipient(conn: Connection, values: dict[str, Any], *, municipality_id: int, allowed: frozenset[int] | None,
                     now: datetime, today: date, actor: str) -> int:
    require_municipality(conn, municipality_id, allowed)
    values = {k: v for k, v in values.items() if k in RECIPIENT_FIELDS}
    for required in ("national_id", "given_name", "family_name", "address", "postal_code", "city"):
        values.setdefault(required, None)
    values.setdefault("language", "nb")
    values.setdefault("active", True)
    _validate_recipient(conn, values, municipality_id, today=today)
    recipient_id = conn.execute(
        insert(recipients).values(**values, municipality_id=municipality_id, created_at=now, updated_at=now)
    ).inserted_primary_key[0]
    if values["active"]:
        _start_service(conn, recipient_id, today)
    audit.append(conn, now=now, actor=actor, action=audit.CREATE, municipality_id=municipality_id, recipient_id=recipient_id,
                 purpose=ADMINISTRATION, details={"entity": "recipient", "fields": sorted(k for k, v in values.items() if v is not None)})
    return recipient_id


def _recipient_row(conn: Connection, recipient_id: int, allowed: frozenset[int] | None, *, lock: bool = False):
    query = select(recipients).where(recipients.c.id == recipient_id)
    if lock and is_postgres(conn):
        query = query.with_for_update(key_share=True)
    row = conn.execute(query).first()
    if row is None or not _visible(allowed, row.municipality_id):
        raise NotFound("recipient")
    return row


def recipient_municipality(conn: Connection, recipient_id: int, allowed: frozenset[int] | None) -> int:
    """The recipient's municipality, without reading (or auditing) the record itself."""
    row = conn.execute(select(recipients.c.municipality_id).where(recipients.c.id == recipient_id)).first()
    if row is None or not _visible(allowed, row.municipality_id):
        raise NotFound("recipient")
    return row.municipality_id


def update_recipient(conn: Connection, recipient_id: int, values: dict[str, Any], *, allowed: frozenset[int] | None,
                     now: datetime, today: date, actor: str) -> list[str]:
    # Locked: the same save arriving twice through two nodes would each see the person
    # inactive and each open a service period, and one would stay open for every invoice.
    row = _recipient_row(conn, recipient_id, allowed, lock=True)
    values = {k: v for k, v in values.items() if k in RECIPIENT_FIELDS}
    _validate_recipient(conn, values, row.municipality_id, today=today, exclude_id=recipient_id)
    changed = sorted(k for k, v in values.items() if getattr(row, k) != v)
    if changed:
        conn.execute(update(recipients).where(recipients.c.id == recipient_id).values(**values, updated_at=now))
        if "active" in changed:
            (_start_service if values["active"] else _end_service)(conn, recipient_id, today)
        audit.append(conn, now=now, actor=actor, action=audit.UPDATE, municipality_id=row.municipality_id, recipient_id=recipient_id,
                     purpose=ADMINISTRATION, details={"entity": "recipient", "fields": changed})
    return changed


# The invoice counts active users day by day from these periods ([starts_on, ends_on), Oslo
# dates): deactivating ends today's period, reactivating opens a new one.
def _start_service(conn: Connection, recipient_id: int, today: date) -> None:
    conn.execute(insert(service_periods).values(recipient_id=recipient_id, starts_on=today))


def _end_service(conn: Connection, recipient_id: int, today: date) -> None:
    # Every open period (there should be one; a second, left by an older race, must not keep
    # the person on every later invoice).
    for open_period in conn.execute(select(service_periods.c.id, service_periods.c.starts_on).where(
            service_periods.c.recipient_id == recipient_id, service_periods.c.ends_on.is_(None))).all():
        conn.execute(update(service_periods).where(service_periods.c.id == open_period.id)
                     .values(ends_on=max(today, open_period.starts_on)))


def read_recipient(conn: Connection, recipient_id: int, *, allowed: frozenset[int] | None, now: datetime, actor: str) -> dict[str, Any]:
    """The full record with contacts and devices; the read is audited before it is returned."""
    row = _recipient_row(conn, recipient_id, allowed)
    audit.append(conn, now=now, actor=actor, action=audit.READ_RECIPIENT, municipality_id=row.municipality_id,
                 recipient_id=recipient_id, purpose=ADMINISTRATION, details={"entity": "recipient"})
    record = dict(row._mapping)
    record["contacts"] = [
        dict(r._mapping) for r in conn.execute(
            select(contacts).where(contacts.c.recipient_id == recipient_id).order_by(contacts.c.priority, contacts.c.id)
        )
    ]
    record["devices"] = queries.device_rows(conn, devices.c.recipient_id == recipient_id)
    return record


def _municipality_filter(conn: Connection, column, municipality_id: int | None, allowed: frozenset[int] | None):
    """The WHERE clause for a list: one municipality (checked) or all the caller administers."""
    if municipality_id is not None:
        require_municipality(conn, municipality_id, allowed)
        return column == municipality_id
    if allowed is None:
        return column.is_not(None)
    return column.in_(sorted(allowed))


def list_recipients(conn: Connection, *, municipality_id: int | None, allowed: frozenset[int] | None,
                    search: str | None = None) -> list[dict[str, Any]]:
    """Recipients without national ids, addresses or notes; ``search`` matches part of the name."""
    where = _municipality_filter(conn, recipients.c.municipality_id, municipality_id, allowed)
    query = (
        select(recipients.c.id, recipients.c.municipality_id, recipients.c.given_name, recipients.c.family_name,
               recipients.c.zone_id, zones.c.code.label("zone_code"), zones.c.name.label("zone_name"), recipients.c.active)
        .select_from(recipients.outerjoin(zones, zones.c.id == recipients.c.zone_id))
        .where(where)
        .order_by(recipients.c.family_name, recipients.c.given_name, recipients.c.id)
    )
    if search and search.strip():
        full_name = func.lower(recipients.c.given_name + " " + recipients.c.family_name)
        query = query.where(full_name.contains(search.strip().lower(), autoescape=True))
    return [
        {
            "id": r.id,
            "municipality_id": r.municipality_id,
            "name": f"{r.given_name} {r.family_name}",
            "zone": None if r.zone_id is None else {"id": r.zone_id, "code": r.zone_code, "name": r.zone_name},
            "active": r.active,
        }
        for r in conn.execute(query)
    ]


# --- contacts --------------------------------------------------------------------------------


def add_contact(conn: Connection, recipient_id: int, values: dict[str, Any], *, allowed: frozenset[int] | None,
                now: datetime, actor: str) -> int:
    row = _recipient_row(conn, recipient_id, allowed)
    problems = _Problems()
    values = dict(values)
    _text(values, "name", "Navn", problems, max_length=200, required=True)
    _text(values, "relation", "Relasjon", problems, max_length=50, required=True)
    _text(values, "notes", "Merknader", problems, max_length=2000, required=False)
    values["phone"] = _phone(values.get("phone"), "phone", problems, required=True)
    if values["phone"] and values.get("receives_alarms") and not is_mobile(values["phone"]):
        # Alarms reach next of kin by SMS, and a landline takes none: the registrar is told
        # now, not the night the message fails (docs/messages.md).
        problems.add("phone", "Den som skal få alarmer på SMS, må ha et mobilnummer", "phone_not_mobile")
    priority = values.get("priority")
    if not isinstance(priority, int) or isinstance(priority, bool) or priority < 1:
        problems.add("priority", "Prioriteten må være et heltall på 1 eller mer (1 ringes først)", "priority")
    problems.raise_any()
    contact_id = conn.execute(
        insert(contacts).values(
            municipality_id=row.municipality_id, recipient_id=recipient_id, name=values["name"], relation=values["relation"],
            phone=values["phone"], priority=priority, receives_alarms=bool(values.get("receives_alarms", False)),
            notes=values.get("notes"),
        )
    ).inserted_primary_key[0]
    audit.append(conn, now=now, actor=actor, action=audit.CREATE, municipality_id=row.municipality_id, recipient_id=recipient_id,
                 purpose=ADMINISTRATION,
                 details={"entity": "contact", "contact_id": contact_id,
                          "fields": sorted(k for k in ("name", "relation", "phone", "priority", "receives_alarms", "notes")
                                           if values.get(k) is not None)})
    return contact_id


# --- devices ---------------------------------------------------------------------------------


def add_device(conn: Connection, values: dict[str, Any], *, municipality_id: int, allowed: frozenset[int] | None,
               now: datetime, actor: str) -> int:
    require_municipality(conn, municipality_id, allowed)
    problems = _Problems()
    values = dict(values)
    _text(values, "kind", "Type", problems, max_length=40, required=True)
    # The timeline names a device's events "device:<identity>" in a 100-character actor column.
    _text(values, "identity", "Identitet", problems, max_length=MAX_IDENTITY, required=True)
    _text(values, "dc09_key", "DC-09-nøkkel", problems, max_length=80, required=False)
    _text(values, "voice_uri", "Taleadresse", problems, max_length=200, required=False)
    if values.get("voice_uri") and not _VOICE_URI.match(values["voice_uri"]):
        problems.add("voice_uri", "En taleadresse er en SIP-adresse, for eksempel sip:enhet@10.0.0.5", "voice_uri")
    _text(values, "video_source", "Videokilde", problems, max_length=300, required=False)
    _text(values, "network", "Nett", problems, max_length=100, required=False)
    if values.get("video_source") and not video_source_valid(values["video_source"]):
        problems.add("video_source", "En videokilde er rtp:<port>/vp8, rtp:<port>/h264 eller en rtsp://-adresse",
                     "video_source")
    protocol = values.get("protocol")
    if protocol not in DEVICE_PROTOCOLS:
        problems.add("protocol", "Ukjent protokoll; gyldige er " + ", ".join(DEVICE_PROTOCOLS), "unknown_protocol",
                     choices=DEVICE_PROTOCOLS)
    _protocol_identity(values, protocol, problems)
    for name in ("heartbeat_interval_s", "heartbeat_grace_s"):
        value = values.get(name)
        if value is not None and (not isinstance(value, int) or value < 1):
            problems.add(name, "Må være et positivt antall sekunder", "positive_seconds")
    recipient_id = values.get("recipient_id")
    if recipient_id is not None:
        found = conn.execute(
            select(recipients.c.id).where(recipients.c.id == recipient_id, recipients.c.municipality_id == municipality_id)
        ).first()
        if found is None:
            problems.add("recipient_id", "Ukjent tjenestemottaker i denne kommunen", "unknown_recipient")
    base_unit_id = values.get("base_unit_id")
    if base_unit_id is not None:
        found = conn.execute(
            select(devices.c.id).where(devices.c.id == base_unit_id, devices.c.municipality_id == municipality_id)
        ).first()
        if found is None:
            problems.add("base_unit_id", "Ukjent basestasjon i denne kommunen", "unknown_base_unit")
    problems.raise_any()
    if conn.execute(select(devices.c.id).where(devices.c.identity == values["identity"])).first() is not None:
        raise Conflict("duplicate_device", "Det finnes allerede en enhet med denne identiteten.")
    watched = values.get("heartbeat_interval_s")
    device_id = conn.execute(
        insert(devices).values(
            municipality_id=municipality_id, recipient_id=recipient_id, kind=values["kind"], protocol=protocol,
            identity=values["identity"], heartbeat_interval_s=watched,
            heartbeat_grace_s=values.get("heartbeat_grace_s"), dc09_key=values.get("dc09_key"),
            base_unit_id=base_unit_id, voice_uri=values.get("voice_uri") or None,
            video_source=values.get("video_source") or None, network=values.get("network") or None, created_at=now,
            # Supervision starts at registration: a device that never reports is also silent.
            alert_after=now + timedelta(seconds=watched + (values.get("heartbeat_grace_s") or 0)) if watched else None,
        )
    ).inserted_primary_key[0]
    if watched:
        supervision.deadlines_changed(conn, municipality_id)
    audit.append(conn, now=now, actor=actor, action=audit.CREATE, municipality_id=municipality_id, recipient_id=recipient_id,
                 purpose=ADMINISTRATION,
                 details={"entity": "device", "device_id": device_id,
                          "fields": sorted(k for k in ("recipient_id", "kind", "protocol", "identity", "heartbeat_interval_s",
                                                       "heartbeat_grace_s", "dc09_key", "base_unit_id", "voice_uri",
                                                       "video_source", "network")
                                           if values.get(k) is not None)})
    return device_id


_DC09_ACCOUNT = re.compile(r"^[0-9A-F]{3,16}$")
# Where the centre calls a unit back (docs/voice.md): a SIP URI, no spaces or angle brackets.
_VOICE_URI = re.compile(r"^sips?:[^\s<>\"]{3,195}$")
# rtp:<port>/<codec>: the camera sends RTP to the gateway on that port; rtsp://…: the gateway
# fetches the picture (docs/supervision.md, "The camera").
_VIDEO_RTP = re.compile(r"^rtp:(\d{4,5})/(vp8|h264)$")
_VIDEO_RTSP = re.compile(r"^rtsps?://[^\s<>\"]{3,290}$")


def video_source_valid(source: str) -> bool:
    rtp = _VIDEO_RTP.match(source)
    return bool(_VIDEO_RTSP.match(source) or (rtp and 1024 <= int(rtp.group(1)) <= 65535))
_MQTT_DEVICE = re.compile(r"^[^/+#\s]{1,100}$")


def _protocol_identity(values: dict[str, Any], protocol: str | None, problems: "_Problems") -> None:
    """What each protocol calls a device, checked where an administrator types it (see docs/protocols.md)."""
    identity = values.get("identity")
    if protocol == "sia_dc09" and identity:
        values["identity"] = identity = identity.upper()
        if not _DC09_ACCOUNT.match(identity):
            problems.add("identity", "En DC-09-konto er 3–16 heksadesimale tegn (0-9, A-F)", "dc09_account")
    if protocol == "mqtt" and identity and not _MQTT_DEVICE.match(identity):
        problems.add("identity", "En MQTT-enhets-ID kan ikke inneholde /, +, # eller mellomrom (den er et ledd i emnet)",
                     "mqtt_identity")
    key = values.get("dc09_key")
    if key:
        if protocol != "sia_dc09":
            problems.add("dc09_key", "Bare DC-09-enheter har nøkkel", "dc09_key_not_dc09")
        else:
            try:
                values["dc09_key"] = parse_key(key).hex().upper()
            except BadKey as exc:
                # BadKey says why in bokmål only; its two reasons, told apart as parse_key does.
                length_ok = len(key.strip().replace(" ", "")) in (32, 48, 64)
                problems.add("dc09_key", str(exc), "dc09_key_hex" if length_ok else "dc09_key_length")


def list_devices(conn: Connection, *, municipality_id: int | None, allowed: frozenset[int] | None) -> list[dict[str, Any]]:
    return queries.device_rows(conn, _municipality_filter(conn, devices.c.municipality_id, municipality_id, allowed))


# --- zones -----------------------------------------------------------------------------------


def add_zone(conn: Connection, values: dict[str, Any], *, municipality_id: int, allowed: frozenset[int] | None,
             now: datetime, actor: str) -> int:
    require_municipality(conn, municipality_id, allowed)
    problems = _Problems()
    # A new zone needs both fields: absent counts as empty (``_text`` skips absent fields,
    # which is right for a partial update but not here).
    values = {"code": None, "name": None, **values}
    _text(values, "code", "Kode", problems, max_length=20, required=True)
    _text(values, "name", "Navn", problems, max_length=100, required=True)
    problems.raise_any()
    exists = conn.execute(
        select(zones.c.id).where(zones.c.municipality_id == municipality_id, zones.c.code == values["code"])
    ).first()
    if exists is not None:
        raise Conflict("duplicate_zone", "Kommunen har allerede en sone med denne koden.")
    zone_id = conn.execute(
        insert(zones).values(municipality_id=municipality_id, code=values["code"], name=values["name"])
    ).inserted_primary_key[0]
    audit.append(conn, now=now, actor=actor, action=audit.CREATE, municipality_id=municipality_id,
                 details={"entity": "zone", "zone_id": zone_id, "fields": ["code", "name"]})
    return zone_id


def list_zones(conn: Connection, *, municipality_id: int | None, allowed: frozenset[int] | None) -> list[dict[str, Any]]:
    where = _municipality_filter(conn, zones.c.municipality_id, municipality_id, allowed)
    return [dict(r._mapping) for r in conn.execute(select(zones).where(where).order_by(zones.c.municipality_id, zones.c.code))]


# --- staff -----------------------------------------------------------------------------------


def add_staff(conn: Connection, values: dict[str, Any], *, municipality_id: int, allowed: frozenset[int] | None,
              now: datetime, actor: str) -> int:
    require_municipality(conn, municipality_id, allowed)
    problems = _Problems()
    values = dict(values)
    _text(values, "name", "Navn", problems, max_length=200, required=True)
    _text(values, "competence", "Kompetanse", problems, max_length=40, required=True)
    if values.get("role") not in STAFF_ROLES:
        problems.add("role", "Ukjent rolle; gyldige er " + ", ".join(STAFF_ROLES), "unknown_role", choices=STAFF_ROLES)
    values["phone"] = _phone(values.get("phone"), "phone", problems)
    values["hpr_number"] = _hpr_number(values.get("hpr_number"), problems)
    _zone_in(conn, values.get("zone_id"), municipality_id, problems)
    problems.raise_any()
    staff_id = conn.execute(
        insert(staff).values(
            municipality_id=municipality_id, name=values["name"], role=values["role"], competence=values["competence"],
            phone=values["phone"], zone_id=values.get("zone_id"), active=bool(values.get("active", True)),
            hpr_number=values["hpr_number"],
        )
    ).inserted_primary_key[0]
    audit.append(conn, now=now, actor=actor, action=audit.CREATE, municipality_id=municipality_id,
                 details={"entity": "staff", "staff_id": staff_id,
                          "fields": sorted(k for k in ("name", "role", "competence", "phone", "zone_id", "active",
                                                       "hpr_number") if values.get(k) is not None)})
    return staff_id


def _hpr_number(raw: Any, problems: "_Problems") -> str | None:
    """Helsepersonellregisteret's number: digits only, at most nine (it has no check digit)."""
    number = str(raw or "").replace(" ", "").strip()
    if not number:
        return None
    if not (number.isascii() and number.isdigit()) or len(number) > 9:
        problems.add("hpr_number", "HPR-nummeret består av inntil ni sifre", "hpr_number")
    return number


def _organisation_number(raw: Any, problems: "_Problems") -> str | None:
    """Enhetsregisteret's number: nine digits with a modulus-11 check digit."""
    number = str(raw or "").replace(" ", "").strip()
    if not number:
        return None
    if not orgnr.is_valid(number):
        problems.add("organisation_number", "Organisasjonsnummeret må ha ni sifre med riktig kontrollsiffer",
                     "organisation_number")
    return number


def list_staff(conn: Connection, *, municipality_id: int | None, allowed: frozenset[int] | None) -> list[dict[str, Any]]:
    where = _municipality_filter(conn, staff.c.municipality_id, municipality_id, allowed)
    return [dict(r._mapping) for r in conn.execute(select(staff).where(where).order_by(staff.c.municipality_id, staff.c.name))]


# --- municipalities and agreements (host administrator) ----------------------------------------


def add_municipality(conn: Connection, values: dict[str, Any], *, now: datetime, actor: str) -> int:
    problems = _Problems()
    values = dict(values)
    _text(values, "name", "Navn", problems, max_length=100, required=True)
    number = str(values.get("number") or "").strip()
    if len(number) != 4 or not (number.isascii() and number.isdigit()):
        problems.add("number", "Kommunenummeret må ha fire sifre", "municipality_number")
    population = values.get("population")
    if not isinstance(population, int) or population < 0:
        problems.add("population", "Innbyggertallet må være et heltall, 0 eller mer", "population")
    if values.get("role", "cooperating") not in MUNICIPALITY_ROLES:
        problems.add("role", "Rollen må være host eller cooperating", "municipality_role", choices=MUNICIPALITY_ROLES)
    organisation_number = _organisation_number(values.get("organisation_number"), problems)
    centre_id = values.get("centre_id")
    if centre_id is None:
        found = conn.execute(select(centres.c.id).order_by(centres.c.id)).first()
        if found is None:
            problems.add("centre_id", "Det finnes ingen responssentral å knytte kommunen til", "no_centre")
        else:
            centre_id = found.id
    elif conn.execute(select(centres.c.id).where(centres.c.id == centre_id)).first() is None:
        problems.add("centre_id", "Ukjent responssentral", "unknown_centre")
    problems.raise_any()
    if conn.execute(select(municipalities.c.id).where(municipalities.c.number == number)).first() is not None:
        raise Conflict("duplicate_municipality", "Det finnes allerede en kommune med dette kommunenummeret.")
    municipality_id = conn.execute(
        insert(municipalities).values(number=number, name=values["name"], population=population,
                                      role=values.get("role", "cooperating"), centre_id=centre_id, created_at=now,
                                      organisation_number=organisation_number)
    ).inserted_primary_key[0]
    fields = ["centre_id", "name", "number", "population", "role"] + (["organisation_number"] if organisation_number else [])
    audit.append(conn, now=now, actor=actor, action=audit.CREATE, municipality_id=municipality_id,
                 details={"entity": "municipality", "fields": sorted(fields)})
    return municipality_id


def list_municipalities(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(municipalities).order_by(municipalities.c.number))]


def municipality_id_by_number(conn: Connection, number: str) -> int | None:
    """The municipality with this kommunenummer (as people type it on the command line)."""
    return conn.execute(select(municipalities.c.id).where(municipalities.c.number == number)).scalar()


def every_municipality_id(conn: Connection) -> frozenset[int]:
    return frozenset(conn.execute(select(municipalities.c.id)).scalars())


def get_municipality(conn: Connection, municipality_id: int, allowed: frozenset[int] | None) -> dict[str, Any]:
    require_municipality(conn, municipality_id, allowed)
    row = conn.execute(select(municipalities).where(municipalities.c.id == municipality_id)).one()
    return dict(row._mapping)


def add_agreement(conn: Connection, values: dict[str, Any], *, municipality_id: int, now: datetime, actor: str) -> int:
    row = conn.execute(select(municipalities.c.id, municipalities.c.centre_id).where(municipalities.c.id == municipality_id)).first()
    if row is None:
        raise NotFound("municipality")
    problems = _Problems()
    valid_from: date = values["valid_from"]
    valid_to: date | None = values.get("valid_to")
    if valid_to is not None and valid_to < valid_from:
        problems.add("valid_to", "Sluttdatoen kan ikke være før startdatoen", "ends_before_start")
    windows: Iterable[dict[str, Any]] = values.get("windows") or []
    if not windows:
        problems.add("windows", "Avtalen må ha minst ett tidsvindu", "no_windows")
    for i, window in enumerate(windows):
        where = f"windows.{i}"
        model = window.get("service_model")
        if model not in (1, 2, 3):
            problems.add(f"{where}.service_model", "Tjenestemodellen må være 1, 2 eller 3", "service_model")
        weekdays = str(window.get("weekdays") or "")
        if not weekdays or not set(weekdays) <= set("1234567") or len(set(weekdays)) != len(weekdays):
            problems.add(f"{where}.weekdays", "Ukedagene skrives som sifre 1–7 (1 er mandag), hver høyst én gang",
                         "weekdays")
        if not isinstance(window.get("starts"), time) or not isinstance(window.get("ends"), time):
            problems.add(f"{where}.starts", "Start og slutt må være klokkeslett", "window_times")
        # starts == ends is the whole day (domain.routing.Window), as the demo agreements use.
        categories = window.get("categories") or []
        if not categories or any(c not in ALARM_CATEGORIES for c in categories):
            problems.add(f"{where}.categories", "Kategoriene må være blant " + ", ".join(ALARM_CATEGORIES), "categories",
                         choices=ALARM_CATEGORIES)
        escalation = window.get("escalation_minutes")
        if model == 2 and (not isinstance(escalation, int) or escalation < 1):
            problems.add(f"{where}.escalation_minutes", "Tjenestemodell 2 krever eskalering etter et antall minutter (1 eller mer)",
                         "escalation_required")
        elif model == 1 and escalation is not None:
            # Model 3 may name a last resort (the centre after N minutes); model 1 is the centre already.
            problems.add(f"{where}.escalation_minutes", "Full respons går rett til responssenteret og eskaleres ikke",
                         "escalation_full_response")
        elif model == 3 and escalation is not None and (not isinstance(escalation, int) or escalation < 1):
            problems.add(f"{where}.escalation_minutes", "Siste utvei må være et antall minutter (1 eller mer)",
                         "escalation_last_resort")
    notes = values.get("notes")
    problems.raise_any()
    agreement_id = conn.execute(
        insert(agreements).values(municipality_id=municipality_id, centre_id=row.centre_id, valid_from=valid_from,
                                  valid_to=valid_to, notes=notes, created_at=now)
    ).inserted_primary_key[0]
    for window in windows:
        conn.execute(insert(agreement_windows).values(
            agreement_id=agreement_id, service_model=window["service_model"], weekdays=window["weekdays"],
            starts=window["starts"], ends=window["ends"], categories=list(window["categories"]),
            escalation_minutes=window.get("escalation_minutes"),
            device_kinds=list(window["device_kinds"]) if window.get("device_kinds") else None,
        ))
    # Every node's rules cache drops this municipality's copy when the change commits: the
    # new agreement applies to the next alarm (engine/routing.RulesCache).
    announce(conn, agreement_changed(municipality_id))
    audit.append(conn, now=now, actor=actor, action=audit.CREATE, municipality_id=municipality_id,
                 details={"entity": "agreement", "agreement_id": agreement_id, "windows": len(list(windows)),
                          "fields": sorted(k for k in ("valid_from", "valid_to", "notes", "windows") if values.get(k) is not None)})
    return agreement_id


# --- overview and completeness (read-only: lists, no one person's full record) ---------------


def registry_counts(conn: Connection, *, municipality_id: int, allowed: frozenset[int] | None) -> dict[str, int]:
    """How much one municipality has registered (active rows only)."""
    require_municipality(conn, municipality_id, allowed)

    def count(table, *where) -> int:
        query = select(func.count()).select_from(table).where(table.c.municipality_id == municipality_id, *where)
        return conn.execute(query).scalar_one()

    return {
        "recipients": count(recipients, recipients.c.active.is_(True)),
        "inactive_recipients": count(recipients, recipients.c.active.is_(False)),
        "contacts": count(contacts),
        "devices": count(devices, devices.c.active.is_(True)),
        "zones": count(zones),
        "staff": count(staff, staff.c.active.is_(True)),
    }


def completeness(conn: Connection, *, municipality_id: int, allowed: frozenset[int] | None) -> list[dict[str, Any]]:
    """Active recipients whose registration lacks what the centre needs, with the gaps.

    Three set-based queries whatever the number of recipients (no query per recipient);
    the rule itself is ``registry.completeness.gaps``.
    """
    require_municipality(conn, municipality_id, allowed)
    contact_counts = {
        r.recipient_id: (r.total, r.with_phone)
        for r in conn.execute(
            select(contacts.c.recipient_id, func.count().label("total"),
                   func.count(case((contacts.c.phone != "", 1))).label("with_phone"))
            .where(contacts.c.municipality_id == municipality_id)
            .group_by(contacts.c.recipient_id)
        )
    }
    device_counts = {
        r.recipient_id: r.total
        for r in conn.execute(
            select(devices.c.recipient_id, func.count().label("total"))
            .where(devices.c.municipality_id == municipality_id, devices.c.active.is_(True), devices.c.recipient_id.is_not(None))
            .group_by(devices.c.recipient_id)
        )
    }
    query = (
        select(recipients.c.id, recipients.c.given_name, recipients.c.family_name, recipients.c.phone, recipients.c.key_box,
               recipients.c.zone_id, recipients.c.latitude, recipients.c.longitude,
               zones.c.code.label("zone_code"), zones.c.name.label("zone_name"))
        .select_from(recipients.outerjoin(zones, zones.c.id == recipients.c.zone_id))
        .where(recipients.c.municipality_id == municipality_id, recipients.c.active.is_(True))
        .order_by(recipients.c.family_name, recipients.c.given_name, recipients.c.id)
    )
    report = []
    for r in conn.execute(query):
        total_contacts, contacts_with_phone = contact_counts.get(r.id, (0, 0))
        facts = RecipientFacts(
            active=True,
            has_phone=not is_blank(r.phone),
            contacts=total_contacts,
            contacts_with_phone=contacts_with_phone,
            has_key_box=not is_blank(r.key_box),
            active_devices=device_counts.get(r.id, 0),
            has_zone=r.zone_id is not None,
            has_coordinates=r.latitude is not None and r.longitude is not None,
        )
        found: list[Gap] = gaps(facts)
        if found:
            report.append({
                "id": r.id,
                "name": f"{r.given_name} {r.family_name}",
                "zone": None if r.zone_id is None else {"id": r.zone_id, "code": r.zone_code, "name": r.zone_name},
                "gaps": found,
            })
    return report


def record_gaps(record: dict[str, Any]) -> list[Gap]:
    """The same rule for one record as ``read_recipient`` returns it (with contacts and devices)."""
    return gaps(RecipientFacts(
        active=bool(record["active"]),
        has_phone=not is_blank(record["phone"]),
        contacts=len(record["contacts"]),
        contacts_with_phone=sum(1 for c in record["contacts"] if not is_blank(c["phone"])),
        has_key_box=not is_blank(record["key_box"]),
        active_devices=sum(1 for d in record["devices"] if d["active"]),
        has_zone=record["zone_id"] is not None,
        has_coordinates=record["latitude"] is not None and record["longitude"] is not None,
    ))
