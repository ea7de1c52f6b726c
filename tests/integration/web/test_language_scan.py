"""The language scan (issue 14): no English words or raw codes on a bokmål screen, and no
bokmål on an English one.

One demo world (``respons.demo.seed``: five municipalities, people, devices, two weeks of
handled alarms) plus alarms made live here so the timelines hold as many event kinds as
the lifecycle has: offered, declined, escalated, handed back, answered, taken over, calls,
a mission, notes and an addendum after closing, outcomes. Then, in each language, every
person visits every HTML page their role may see (the route table is checked: a new page
route fails ``test_every_page_route_is_visited``) and provokes every refusal the console,
the app, the registry, the deviation and economy pages and the log-in can give.

The visible text of each answer (text nodes outside script and style, ``title``,
``aria-label``, ``placeholder`` and ``alt`` attributes, ``<option>`` labels) is checked:

* a bokmål page holds no word that only the English side of the i18n catalogue uses, and
  an English page no word that only the bokmål side uses (the word lists come from
  ``respons.web.i18n.CATALOGUE``, so they grow with the interface);
* no page shows a raw code: a snake_case token (``safety_alarm``), an actor id
  (``system:routing``, ``user:12``, ``device:…``), a bare language code as a label
  ("Språk nb"), or more than 120 seconds as seconds ("1550 s"; those are minutes).

People's data is not the interface's language: names, addresses, zone and municipality
names, notes and deviation texts someone typed are removed before the check (every value of
the data columns listed in ``USER_DATA``, whole tokens, longest first). Codes the system
stores (device kinds, states, languages, roles) and texts the system writes itself (the
titles of proposed deviations) are not removed: they must be translated on screen.

SQLite only: this is about rendering; both databases give the pages the same rows.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from respons.auth import totp
from respons.demo.seed import seed_demo
from respons.demo.users import DEMO_USERS
from respons.domain.access import Role
from respons.domain.alarm_types import alarm_type
from respons.engine import receiving
from respons.settings import Settings
from respons.store import tables
from respons.store.db import make_engine, write_transaction
from respons.digital_supervision import lookins
from respons.clock import OSLO
from respons.store.migrate import upgrade
from respons.web import i18n
from respons.registry.pages import CONTACT_FIELDS, DEVICE_FIELDS, RECIPIENT_FIELDS, STAFF_FIELDS, ZONE_FIELDS
from respons.web.app import create_app
from tests.factories import FakeClock, add_user, log_in

# Every screen's words module registers its keys on import; the app imports them all.
NOW = datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc)  # 12:00 in Oslo, a Monday
HX = {"HX-Request": "true"}
LANGUAGES = ("nb", "en")

# --- what is people's data (removed before the words are checked) -----------------------

USER_DATA: dict[str, tuple[str, ...]] = {
    "centres": ("name", "phone"),
    "municipalities": ("number", "name"),
    "agreements": ("notes",),
    "zones": ("code", "name"),
    "budgets": ("name",),
    "price_models": ("notes",),
    "recipients": ("national_id", "given_name", "family_name", "phone", "address", "postal_code", "city", "key_box",
                   "response_notes"),
    "staff": ("name", "phone"),
    "contacts": ("name", "relation", "phone", "notes"),
    "devices": ("identity",),
    "planned_visits": ("service", "notes"),
    "users": ("username", "display_name"),
    "api_tokens": ("name", "prefix"),
    "deflators": ("source",),
    "invoice_lines": ("description",),
    "supervision_plans": ("consent_by", "instructions"),
}
# Free text inside events: what people wrote (notes, reasons) and the contact called.
EVENT_TEXT_FIELDS = ("text", "note", "reason", "contact_name", "phone", "to", "conclusion")

# --- the word lists ----------------------------------------------------------------------------

WORD = re.compile(r"[A-Za-zÆØÅæøåÉéÜü]{3,}")

# Words both languages use although the catalogue has them on one side only. Keep short.
ALLOWED_IN_BOTH = {
    "respons",  # the product's name
    "enter",  # the key is labelled Enter on Norwegian keyboards too (console shortcuts: Ctrl+Enter)
    "fire",  # bokmål for "four" ("fire sifre"); the English "fire" is a word of the catalogue too
}
# Codes a person is meant to type: the keys of a price model's JSON, which the prices page
# explains (economy/prices). Nothing else may show a code.
CODES_TO_TYPE = {"per_user_month", "per_event", "per_supervision", "budget_share", "per_inhabitant", "alarm_types", "device_kinds"}


# Ids are no words of any language: a random alarm id such as …-5d61a2ec2add would otherwise
# read as the English "add" now and then.
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")


def _words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(_UUID.sub(" ", re.sub(r"\{[^}]*\}", " ", text)))}


def word_lists() -> tuple[set[str], set[str]]:
    """(EN_ONLY, NB_ONLY): words found in English values but in no bokmål value, and back."""
    nb = set().union(*(_words(pair[0]) for pair in i18n.CATALOGUE.values()))
    en = set().union(*(_words(pair[1]) for pair in i18n.CATALOGUE.values()))
    return en - nb - ALLOWED_IN_BOTH, nb - en - ALLOWED_IN_BOTH


# Leaks the scan found that are not fixed yet, each with why (a pattern matched against a
# chunk's text). Empty: every engine message a page shows is named by its engine and said in
# the reader's language (the registry's, the invoicing's and the price models'). Each pattern
# must still match a leak (test_known_leaks_are_still_there), so the list only shrinks.
KNOWN_LEAKS: dict[str, str] = {}

# --- raw codes -----------------------------------------------------------------------------------

SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
ACTOR = re.compile(r"\b(?:user|system|device|http|token|api):\S*")
SECONDS = re.compile(r"\b(\d+)\s?(?:s|sek|sekunder|seconds?)\b")
LANGUAGE_CODE = re.compile(r"^(?:nb|nn|en|se|ar|pl|so|sv|da)$")


# --- visible text --------------------------------------------------------------------------------


class VisibleText(HTMLParser):
    """Text a person sees or hears: text nodes outside script/style, and the attributes a
    screen reader or tooltip says. Each chunk is kept apart so a label can be checked whole."""

    ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        # A textarea holds what is typed (a price model's JSON, a note), not the interface's words.
        if tag in ("script", "style", "textarea"):
            self._skip += 1
        for name, value in attrs:
            if name in self.ATTRIBUTES and value:
                self.chunks.append(value)
            if tag == "input" and name == "value" and value and dict(attrs).get("type") in ("submit", "button"):
                self.chunks.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "textarea") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.chunks.append(data.strip())


def visible_chunks(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    parser.close()
    return parser.chunks


# --- the world -----------------------------------------------------------------------------------


@dataclass
class Visit:
    language: str
    who: str
    what: str  # "GET /console" or "refusal: close before resolve"
    status: int
    html: str


@dataclass
class Scan:
    visits: list[Visit] = field(default_factory=list)
    routes_visited: set[str] = field(default_factory=set)
    user_data: list[str] = field(default_factory=list)  # longest first
    app: object = None


class Person:
    """A logged-in browser: GETs and POSTs are recorded as visits in the current language."""

    def __init__(self, scan: Scan, app, engine, clock, who: str, *, username: str | None = None,
                 password: str | None = None, secret: str | None = None, user=None):
        self.scan, self.who, self.language = scan, who, "nb"
        self.client = TestClient(app, base_url="https://testserver")
        self.client.__enter__()
        if user is not None:
            self.headers = {**log_in(self.client, user, clock), **HX}
        elif username is not None:
            body = {"username": username, "password": password}
            if secret:
                body["totp"] = totp.code_at(secret, clock())
            answer = self.client.post("/api/v1/auth/login", json=body)
            assert answer.status_code == 200, answer.text
            self.headers = {"X-CSRF-Token": answer.json()["csrf_token"], **HX}
        else:
            self.headers = {}

    def speak(self, language: str) -> None:
        self.language = language
        self.client.cookies.set(i18n.LANGUAGE_COOKIE, language)

    def _record(self, what: str, route: str | None, response, expect: set[int] | int | None):
        if route:
            self.scan.routes_visited.add(route)
        expected = {expect} if isinstance(expect, int) else expect
        if expected is not None:
            assert response.status_code in expected, (self.who, what, response.status_code, response.text[:500])
        if "text/html" in response.headers.get("content-type", ""):
            self.scan.visits.append(Visit(self.language, self.who, what, response.status_code, response.text))
        return response

    def page(self, url: str, route: str | None = None, *, htmx: bool = False, expect=200):
        headers = HX if htmx else {}
        response = self.client.get(url, headers=headers, follow_redirects=False)
        return self._record(f"GET {url}", route, response, expect)

    def post(self, url: str, what: str, *, data=None, expect=None):
        response = self.client.post(url, data=data, headers=self.headers, follow_redirects=False)
        return self._record(f"{what} (POST {url})", None, response, expect)

    def close(self):
        self.client.__exit__(None, None, None)


def _demo(username: str):
    return next(u for u in DEMO_USERS if u.username == username)


def _page_routes(app) -> set[str]:
    """Every GET route of the browser pages (not the JSON API, files or streams)."""
    def walk(routes):
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            elif hasattr(route, "original_router"):
                yield from walk(route.original_router.routes)
            elif hasattr(route, "routes"):
                yield from walk(route.routes)

    # console.js and voice.js read /console/voice and /console/calls/{id} (/app/calls/{id} in
    # the app) as JSON (no words).
    not_pages = ("/api/", "/healthz", "/livez", "/readyz", "/metrics", "/app/events", "/app/sw.js", "/app/push/",
                 "/economy/runs/{run_id}/export", "/console/voice", "/console/calls/", "/app/calls/",
                 "/round/events")
    return {r.path for r in walk(app.routes) if "GET" in r.methods and not r.path.startswith(not_pages)}


def _user_data(engine) -> list[str]:
    values: set[str] = set()
    with engine.connect() as conn:
        for table_name, columns in USER_DATA.items():
            table = tables.metadata.tables[table_name]
            for row in conn.execute(select(*(table.c[c] for c in columns))):
                values.update(str(v) for v in row if v)
        for (data,) in conn.execute(select(tables.alarm_events.c.data)):
            values.update(str(data[k]) for k in EVENT_TEXT_FIELDS if data and isinstance(data.get(k), str))
        for (data,) in conn.execute(select(tables.deviation_events.c.data)):
            values.update(str(data[k]) for k in EVENT_TEXT_FIELDS if data and isinstance(data.get(k), str))
        # A supervision plan's checklist, as its municipality wrote it.
        for (checklist,) in conn.execute(select(tables.supervision_plans.c.checklist)):
            values.update(str(item) for item in checklist or ())
        # The labels the host gave a price model's components, and the budgets they share.
        for (components,) in conn.execute(select(tables.price_models.c.components)):
            values.update(str(c[k]) for c in components or () for k in ("label", "budget") if c.get(k))
        # What people typed into deviations; the system's own proposals are not people's data.
        d = tables.deviations
        for row in conn.execute(select(d.c.title, d.c.description, d.c.conclusion, d.c.assigned_to)
                                .where(~d.c.created_by.like("system:%"))):
            values.update(str(v) for v in row if v)
        for row in conn.execute(select(d.c.description, d.c.conclusion, d.c.assigned_to)):
            values.update(str(v) for v in row if v)
    return sorted((v.strip() for v in values if v.strip()), key=len, reverse=True)


def without_user_data(chunk: str, user_data: list[str]) -> str:
    for value in user_data:
        if value in chunk:
            chunk = re.sub(r"(?<![\wÆØÅæøå])" + re.escape(value) + r"(?![\wÆØÅæøå])", " ", chunk)
    return chunk


def _empty(fields) -> dict[str, str]:
    """A form as a browser sends it with nothing filled in: every field, empty."""
    return {name: "" for name in fields}


def _fire_timers(app, person: Person) -> None:
    rt = app.state.runtime
    person.client.portal.call(rt.timers.run_once)


@pytest.fixture(scope="module")
def scan(tmp_path_factory) -> Scan:
    url = f"sqlite:///{tmp_path_factory.mktemp('language-scan') / 'respons.db'}"
    upgrade(url)
    engine = make_engine(url)
    seed_demo(engine, now=NOW, recipients=200, history_days=14)
    clock = FakeClock(NOW)
    app = create_app(Settings(database_url=url, cookie_secure=False), clock, run_timers=False)
    result = Scan(app=app)
    colleague = add_user(engine, "kollega", [(Role.OPERATOR, None)], now=NOW)
    people = {
        "anonymous": Person(result, app, engine, clock, "anonymous"),
        "operator": Person(result, app, engine, clock, "operator", username="operator",
                           password=_demo("operator").password),
        "colleague": Person(result, app, engine, clock, "colleague", user=colleague),
        "responder": Person(result, app, engine, clock, "responder", username="hjemmetjeneste",
                            password=_demo("hjemmetjeneste").password),
        "technician": Person(result, app, engine, clock, "technician", username="tekniker",
                             password=_demo("tekniker").password),
        "host": Person(result, app, engine, clock, "host", username="vertsadmin", password=_demo("vertsadmin").password,
                       secret=_demo("vertsadmin").totp_secret),
        "municipality": Person(result, app, engine, clock, "municipality", username="kommuneadmin",
                               password=_demo("kommuneadmin").password, secret=_demo("kommuneadmin").totp_secret),
        "auditor": Person(result, app, engine, clock, "auditor", username="revisor", password=_demo("revisor").password),
    }
    try:
        for language in LANGUAGES:
            for person in people.values():
                person.speak(language)
            _tour(app, engine, clock, people, language)
            clock.advance(minutes=30)
        result.user_data = _user_data(engine)
    finally:
        for person in people.values():
            person.close()
        engine.dispose()
    return result


def _new_alarm(app, engine, clock, municipality_number: str, type_code: str) -> str:
    """An alarm from a device of a recipient in the municipality, received now."""
    with engine.connect() as conn:
        m = tables.municipalities
        device = conn.execute(
            select(tables.devices.c.id, tables.devices.c.identity, tables.devices.c.recipient_id,
                   tables.devices.c.municipality_id)
            .join(m, m.c.id == tables.devices.c.municipality_id)
            .where(m.c.number == municipality_number, tables.devices.c.recipient_id.is_not(None))
            .order_by(tables.devices.c.id)).first()
    new = receiving.NewAlarm(device.municipality_id, device.recipient_id, device.id, alarm_type(type_code), "http",
                                 f"device:{device.identity}", clock())
    journal = app.state.runtime.journal
    return journal.run_sync(lambda conn: receiving.receive(conn, new, now=clock(),
                                                              answer_deadline=timedelta(seconds=60))).alarm_id


def _next_of_kin_request(app, engine, clock) -> tuple[str, str]:
    """A sensor alarm of a demo person whose contact takes alarms, its SMS claimed for sending
    with its one-time link: (alarm id, the link's token)."""
    from respons.messages import store as messages

    with engine.connect() as conn:
        person = conn.execute(select(tables.devices.c.id, tables.devices.c.identity, tables.devices.c.recipient_id,
                                     tables.devices.c.municipality_id)
                              .join(tables.recipients, tables.recipients.c.id == tables.devices.c.recipient_id)
                              .where(tables.recipients.c.kin_categories.is_not(None))
                              .order_by(tables.devices.c.id)).first()
    new = receiving.NewAlarm(person.municipality_id, person.recipient_id, person.id, alarm_type("door_opened"), "http",
                             f"device:{person.identity}", clock())
    journal = app.state.runtime.journal
    alarm_id = journal.run_sync(lambda conn: receiving.receive(conn, new, now=clock(),
                                                                  answer_deadline=timedelta(seconds=60))).alarm_id
    claims = journal.run_sync(lambda conn: messages.claim_due(conn, now=clock(), node="scan", lease=timedelta(minutes=5),
                                                               link_base="https://respons.example"))
    body = next(c.body for c in claims if c.alarm_id == alarm_id)
    return alarm_id, body.split("/k/")[1].split()[0]


def _tour(app, engine, clock, people, language) -> None:
    anonymous, operator, colleague = people["anonymous"], people["operator"], people["colleague"]
    responder, technician, host = people["responder"], people["technician"], people["host"]
    municipality, auditor = people["municipality"], people["auditor"]
    with engine.connect() as conn:
        m = tables.municipalities
        numbers = dict(conn.execute(select(m.c.number, m.c.id)).all())
        farsund_zones = conn.execute(select(tables.zones.c.id).where(tables.zones.c.municipality_id == numbers["4206"])
                                     ).scalars().all()
        history = conn.execute(select(tables.alarms.c.id).order_by(tables.alarms.c.received_at)).scalars().all()
        with_mission = conn.execute(select(tables.alarms.c.id).where(tables.alarms.c.mission.is_not(None))).scalars().all()
        recipient = conn.execute(select(tables.recipients.c.id).where(
            tables.recipients.c.municipality_id == numbers["4223"]).order_by(tables.recipients.c.id)).scalar()

    # --- the field: offers declined, accepted, handed back; escalation to the centre -------
    responder.post("/app/duty", "go on duty", data={"zone_id": [str(z) for z in farsund_zones]}, expect={200, 303})
    responder.page("/app", "/app")
    offered = _new_alarm(app, engine, clock, "4206", "button_press")
    escalating = _new_alarm(app, engine, clock, "4206", "fall")
    handed = _new_alarm(app, engine, clock, "4206", "button_press")
    responder.page("/app/offers", "/app/offers")
    responder.page(f"/app/alarms/{offered}", "/app/alarms/{alarm_id}")
    responder.post(f"/app/alarms/{escalating}/decline", "decline an offer", expect={200, 303})
    responder.post(f"/app/alarms/{handed}/accept", "accept an offer", expect=200)
    responder.page(f"/app/alarms/{handed}/voice", "/app/alarms/{alarm_id}/voice", htmx=True)
    responder.post(f"/app/alarms/{handed}/call", "call without a known result", data={"result": "maybe"}, expect=422)
    responder.post(f"/app/alarms/{handed}/call", "call the recipient", data={"result": "no_answer"}, expect=200)
    responder.post(f"/app/alarms/{handed}/notes", "refusal: empty note in the app", data={"text": " "})
    responder.post(f"/app/alarms/{handed}/status", "unknown status", data={"status": "dancing"}, expect=422)
    responder.post(f"/app/alarms/{handed}/hand-back", "hand back", data={"reason": "Bilen står"}, expect={200, 303})
    responder.post(f"/app/alarms/{handed}/accept", "refusal: accept what was handed back", expect={404, 409})
    responder.post(f"/app/alarms/{handed}/hand-back", "refusal: hand back again", expect={404, 409})
    responder.post(f"/app/alarms/{offered}/status", "refusal: status on an offer not taken",
                   data={"status": "en_route"}, expect={404, 409})
    responder.post(f"/app/alarms/{offered}/mission/accept", "refusal: mission on an offer", expect={404, 409})
    clock.advance(minutes=5)
    _fire_timers(app, operator)  # Farsund's centre backup after 4 minutes: escalated

    # --- the centre: every step on a card, and the refusals ----------------------------------
    queued = _new_alarm(app, engine, clock, "4204", "fall")
    late = _new_alarm(app, engine, clock, "4204", "door_opened")
    clock.advance(seconds=150)
    _fire_timers(app, operator)  # answer deadline passed
    operator.page("/console", "/console")
    operator.page("/console/queue", "/console/queue", htmx=True)
    operator.page(f"/console/queue/rows/{queued}", "/console/queue/rows/{alarm_id}", htmx=True)
    operator.page(f"/console/alarms/{queued}", "/console/alarms/{alarm_id}")
    operator.post(f"/console/alarms/{queued}/actions", "refusal: act before answering",
                  data={"action": "dispatch_home_care"}, expect=409)
    operator.post(f"/console/alarms/{queued}/take-over", "refusal: take over an alarm nobody holds", expect=409)
    operator.post(f"/console/alarms/{queued}/answer", "answer", expect=200)
    operator.post(f"/console/alarms/{queued}/take-over", "refusal: take over your own alarm", expect=409)
    colleague.post(f"/console/alarms/{queued}/answer", "refusal: answer a colleague's alarm", expect=409)
    colleague.post(f"/console/alarms/{queued}/resolve", "refusal: resolve a colleague's alarm",
                   data={"outcome": "false_alarm"}, expect=409)
    operator.post(f"/console/alarms/{queued}/notes", "refusal: empty note", data={"text": "  "}, expect=422)
    operator.post(f"/console/alarms/{queued}/actions", "refusal: call without a result",
                  data={"action": "call", "whom": "recipient", "result": ""}, expect=422)
    operator.post(f"/console/alarms/{queued}/actions", "refusal: unknown action", data={"action": "dance"}, expect=422)
    operator.post(f"/console/alarms/{queued}/actions", "refusal: a stranger's contact",
                  data={"action": "call", "whom": "contact:999999", "result": "answered"}, expect=409)
    operator.post(f"/console/alarms/{queued}/actions", "call the recipient",
                  data={"action": "call", "whom": "recipient", "result": "busy"}, expect=200)
    operator.post(f"/console/alarms/{queued}/actions", "dispatch home care", data={"action": "dispatch_home_care"},
                  expect=200)
    operator.post(f"/console/alarms/{queued}/actions", "notify technician", data={"action": "notify_technician"},
                  expect=200)
    operator.post(f"/console/alarms/{queued}/notes", "note", data={"text": "Brukeren ble funnet på badet"}, expect=200)
    operator.post(f"/console/alarms/{queued}/close", "refusal: close before an outcome", expect=409)
    operator.post(f"/console/alarms/{queued}/resolve", "refusal: no outcome", data={"outcome": ""}, expect=422)
    operator.post(f"/console/alarms/{queued}/resolve", "refusal: the system's outcome", data={"outcome": "cleared"},
                  expect={409, 422})
    colleague.post(f"/console/alarms/{queued}/take-over", "take over", expect=200)
    operator.page(f"/console/alarms/{queued}/work", "/console/alarms/{alarm_id}/work", htmx=True)
    operator.page(f"/console/alarms/{queued}/care", "/console/alarms/{alarm_id}/care", htmx=True)
    operator.page(f"/console/alarms/{queued}/voice", "/console/alarms/{alarm_id}/voice", htmx=True)
    colleague.post(f"/console/alarms/{queued}/resolve", "resolve", data={"outcome": "resolved_at_centre",
                                                                         "note": "Alt i orden"}, expect=200)
    colleague.post(f"/console/alarms/{queued}/close", "close", expect=200)
    colleague.post(f"/console/alarms/{queued}/close", "refusal: close a closed alarm", expect=409)
    colleague.post(f"/console/alarms/{queued}/answer", "refusal: answer a closed alarm", expect=409)
    operator.post(f"/console/alarms/{queued}/notes", "note after close", data={"text": "Datteren ringte tilbake"},
                  expect=200)
    operator.page(f"/console/alarms/{queued}", None, htmx=True)

    for alarm_id in (late, escalating, handed):
        operator.page(f"/console/alarms/{alarm_id}", None, htmx=True)
    operator.post(f"/console/alarms/{escalating}/answer", "answer an escalated alarm", expect=200)
    operator.post(f"/console/alarms/{escalating}/actions", "call 113", data={"action": "call_emergency_services"},
                  expect=200)
    operator.post(f"/console/alarms/{escalating}/resolve", "resolve", data={"outcome": "emergency_services"}, expect=200)
    for alarm_id in history[-6:] + with_mission[:2]:
        operator.page(f"/console/alarms/{alarm_id}", None, htmx=True)
    operator.page("/console/alarms/00000000-0000-0000-0000-000000000000", None, expect=404)

    # The responder on the centre's mission.
    responder.page("/app", None)
    responder.post(f"/app/alarms/{queued}/status", "refusal: status on a closed mission",
                   data={"status": "arrived"}, expect={200, 404, 409})
    technician.page("/app", None)

    # --- deviations ---------------------------------------------------------------------------
    operator.page("/deviations", "/deviations")
    operator.page("/deviations?show=all", None)
    operator.page("/deviations/new", "/deviations/new")
    operator.page(f"/deviations/new?alarm_id={late}", None)
    operator.post("/deviations", "refusal: a deviation without a title",
                  data={"municipality_id": numbers["4204"], "category": "other", "title": " "}, expect=422)
    saved = operator.post("/deviations", "register a deviation",
                          data={"municipality_id": numbers["4204"], "category": "technical_failure", "severity": "high",
                                "title": "Telefonlinjen falt ut", "alarm_id": late}, expect={200, 303})
    deviation = int((saved.headers.get("HX-Redirect") or saved.headers["location"]).rsplit("/", 1)[1])
    with engine.connect() as conn:
        deviation_ids = conn.execute(select(tables.deviations.c.id)).scalars().all()
    for d in deviation_ids:
        host.page(f"/deviations/{d}", "/deviations/{deviation_id}")
    host.post(f"/deviations/{deviation}/events", "refusal: close without a conclusion", data={"kind": "close"},
              expect={409, 422})
    host.post(f"/deviations/{deviation}/events", "refusal: unknown step", data={"kind": "dance"}, expect={409, 422})
    host.post(f"/deviations/{deviation}/events", "assign", data={"kind": "assign", "to": "IKT-ansvarlig"}, expect=200)
    host.page("/deviations?show=all", None)
    auditor.page("/deviations", None)

    # --- the registry ---------------------------------------------------------------------------
    own = numbers["4223"]
    host.page("/admin/registry", "/admin/registry")
    for path, route in (("", "/admin/registry/{municipality_id}"),
                        ("/recipients", "/admin/registry/{municipality_id}/recipients"),
                        ("/recipients/new", "/admin/registry/{municipality_id}/recipients/new"),
                        ("/devices", "/admin/registry/{municipality_id}/devices"),
                        ("/zones", "/admin/registry/{municipality_id}/zones"),
                        ("/staff", "/admin/registry/{municipality_id}/staff"),
                        ("/completeness", "/admin/registry/{municipality_id}/completeness")):
        host.page(f"/admin/registry/{own}{path}", route)
        municipality.page(f"/admin/registry/{own}{path}", None)
    host.page(f"/admin/registry/{own}/recipients?q=zzz", None)
    host.page(f"/admin/registry/recipients/{recipient}", "/admin/registry/recipients/{recipient_id}")
    host.post(f"/admin/registry/{own}/recipients", "refusal: an empty recipient", data=_empty(RECIPIENT_FIELDS),
              expect=422)
    host.post(f"/admin/registry/{own}/recipients", "refusal: a bad national id",
              data={"national_id": "123", "given_name": "Ny", "family_name": "Bruker", "address": "Veien 1",
                    "postal_code": "4700", "city": "Vennesla", "phone": "abc"}, expect=422)
    host.post(f"/admin/registry/recipients/{recipient}", "refusal: a recipient without a name",
              data={"given_name": ""}, expect={409, 422})
    host.post(f"/admin/registry/recipients/{recipient}/contacts", "refusal: an empty contact",
              data=_empty(CONTACT_FIELDS), expect=422)
    host.post(f"/admin/registry/{own}/devices", "refusal: an empty device", data=_empty(DEVICE_FIELDS), expect=422)
    host.post(f"/admin/registry/{own}/devices", "refusal: a device without an identity",
              data={"kind": "safety_alarm", "protocol": "http", "identity": ""}, expect=422)
    host.post(f"/admin/registry/{own}/zones", "refusal: an empty zone", data=_empty(ZONE_FIELDS), expect=422)
    host.post(f"/admin/registry/{own}/staff", "refusal: empty staff", data=_empty(STAFF_FIELDS), expect=422)
    # Supervision plans: the municipality's own administrator's page (a plan, and a refusal).
    municipality.page(f"/admin/registry/recipients/{recipient}", None)
    plan = {"kind": "camera", "times": "23:00\n03:00 1-5", "max_seconds": "30", "event_based": "1",
            "checklist": "Ligger i sengen", "consent_by": "Brukeren selv", "consent_on": "2026-11-01",
            "valid_from": "2026-11-01", "valid_to": "", "instructions": ""}
    municipality.post(f"/admin/registry/recipients/{recipient}/supervision", "record a supervision plan", data=plan,
                      expect={200, 303})
    municipality.page(f"/admin/registry/recipients/{recipient}/supervision",
                      "/admin/registry/recipients/{recipient_id}/supervision")
    municipality.post(f"/admin/registry/recipients/{recipient}/supervision", "refusal: a plan that cannot be followed",
                      data={**plan, "times": "22:00\n22:10\nkl 7", "max_seconds": "900", "valid_from": "i morgen"},
                      expect=422)
    with engine.connect() as conn:
        plan_id = conn.execute(select(tables.supervision_plans.c.id)
                               .where(tables.supervision_plans.c.recipient_id == recipient)).scalar()
    municipality.post(f"/admin/registry/recipients/{recipient}/supervision/{plan_id}/end",
                      "refusal: a plan ended in the past", data={"valid_to": "2020-01-01"}, expect=422)
    # The round: a second plan due now, so one look-in is in its window and one is not.
    soon = (clock() + timedelta(minutes=5)).astimezone(OSLO).strftime("%H:%M")
    municipality.post(f"/admin/registry/recipients/{recipient}/supervision", "record a plan due now",
                      data={**plan, "times": soon, "instructions": "Se etter at dynen ligger over"},
                      expect={200, 303})
    with write_transaction(engine) as conn:
        lookins.schedule(conn, clock(), lookins.Rules())
        due = {r["planned_local"][-5:]: r["id"] for r in conn.execute(select(tables.supervision_lookins)).mappings()
               if r["reason"] == "planned" and r["state"] == "due"}
    operator.page("/round", "/round")
    operator.page("/round?shift=next", None)
    operator.page("/round/list", "/round/list", htmx=True)
    operator.page(f"/round/rows/{due[soon]}", "/round/rows/{lookin_id}", htmx=True)
    operator.page(f"/round/lookins/{due[soon]}", "/round/lookins/{lookin_id}", htmx=True)
    operator.post(f"/round/lookins/{due['23:00']}/start", "refusal: a look-in outside its window", expect=409)
    operator.post(f"/round/lookins/{due[soon]}/start", "start a look-in", expect=200)
    colleague.post(f"/round/lookins/{due[soon]}/start", "refusal: a colleague's look-in", expect=409)
    operator.post(f"/round/lookins/{due[soon]}/finish", "refusal: no outcome", data={"outcome": ""}, expect=422)
    operator.post(f"/round/lookins/{due[soon]}/finish", "record not seen", data={"outcome": "not_seen"},
                  expect=200)
    operator.page("/round", None)

    # --- statistics --------------------------------------------------------------------------------
    for person, number in ((host, "4206"), (municipality, "4223"), (auditor, "4204")):
        person.page(f"/stats?municipality_id={numbers[number]}", "/stats")
        person.page(f"/stats/alarms?municipality_id={numbers[number]}", "/stats/alarms")
        person.page(f"/stats/report?municipality_id={numbers[number]}", "/stats/report")
    for period in ("day", "week", "half_year", "year"):
        host.page(f"/stats?municipality_id={numbers['4206']}&period={period}", None)
        host.page(f"/stats/report?municipality_id={numbers['4206']}&period={period}", None)
    host.page(f"/stats/alarms?municipality_id={numbers['4206']}&show=late", None)
    host.page(f"/stats/alarms?municipality_id={numbers['4204']}&category=fall", None)
    operator.page(f"/stats/alarms?municipality_id={numbers['4204']}", None, expect={200, 403})
    host.page("/stats/alarms", None, expect=422)
    host.page("/stats?period=2026-11", None, expect={200, 422})
    host.page("/stats/report?period=ikke-en-dato", None, expect=422)
    host.page("/stats?municipality_id=abc", None, expect=422)

    # --- economy -------------------------------------------------------------------------------------
    host.page("/economy", "/economy")
    host.page("/economy/prices", "/economy/prices")
    host.page("/economy/planner", "/economy/planner")
    host.post("/economy/runs", "refusal: a bad period", data={"from": "januar", "months": "1"}, expect=422)
    host.post("/economy/runs", "refusal: a period over the year end", data={"from": "2026-12", "months": "2"},
              expect=422)
    made = host.post("/economy/runs", "compute a run", data={"from": "2026-11", "months": "1"}, expect={200, 303})
    # The second language computes an approved month again: the page of differences.
    with engine.connect() as conn:
        run_url = f"/economy/runs/{conn.execute(select(tables.invoice_runs.c.id).order_by(tables.invoice_runs.c.id.desc())).scalar()}"
    run_page = host.page(run_url, "/economy/runs/{run_id}")
    for line in sorted(set(re.findall(r'data-line-id="(\d+)"', run_page.text)))[:4]:
        host.page(f"/economy/lines/{line}", "/economy/lines/{line_id}")
    host.post("/economy/prices", "refusal: an empty price model", data={}, expect=422)
    host.post("/economy/budgets", "refusal: an empty budget", data={}, expect=422)
    host.post("/economy/deflators", "refusal: an empty deflator", data={}, expect=422)
    run_id = run_url.rsplit("/", 1)[1]
    if made.headers.get("HX-Redirect"):
        host.post(f"/economy/runs/{run_id}/approve", "approve", expect={200, 303})
    host.post(f"/economy/runs/{run_id}/approve", "refusal: approve twice", expect=409)
    host.post(f"/economy/runs/{run_id}/discard", "refusal: discard an approved run", expect=409)
    municipality.page("/economy", None)
    municipality.page(run_url, None)

    # --- the patient record's delivery ---------------------------------------------------------------
    host.page("/epj", "/epj")
    with engine.connect() as conn:
        document = conn.execute(select(tables.epj_documents.c.id).where(tables.epj_documents.c.alarm_id == queued)
                                .order_by(tables.epj_documents.c.version.desc())).scalars().first()
    host.post(f"/epj/documents/{document}/resend", "send a document again", expect={200, 303})
    host.page("/epj?resent=1", None)
    host.post("/epj/documents/2147483000/resend", "refusal: no such document", expect=404)
    operator.page("/epj", None, expect=403)

    # --- log-in, errors ----------------------------------------------------------------------------
    anonymous.page("/login", "/login")
    # --- next of kin: asked by SMS, confirming through the message's link --------------------
    kin_alarm, token = _next_of_kin_request(app, engine, clock)
    operator.page(f"/console/alarms/{kin_alarm}", "/console/alarms/{alarm_id}")
    anonymous.page(f"/k/{token}", "/k/{token}")
    anonymous.post(f"/k/{token}", "confirm through the link", expect=200)
    anonymous.post(f"/k/{token}", "the link used again", expect=200)
    anonymous.page("/k/" + "x" * 24, "/k/{token}", expect=404)
    operator.page(f"/console/alarms/{kin_alarm}", "/console/alarms/{alarm_id}")
    anonymous.post("/login", "refusal: a wrong password", data={"username": "operator", "password": "feil"})
    anonymous.post("/login", "refusal: an administrator without a code",
                   data={"username": "vertsadmin", "password": _demo("vertsadmin").password})
    operator.page("/economy", None, expect=403)
    operator.page("/admin/registry", None, expect=403)
    responder.page("/stats", None, expect=403)
    host.page("/deviations/999999", None, expect=404)
    host.page("/economy/runs/999999", None, expect=404)
    responder.page(f"/app/alarms/{late}", None, expect=404)
    for person in (operator, responder, host, municipality, auditor):
        person.page("/", "/", expect={200, 303, 307})


# --- the checks -----------------------------------------------------------------------------------


def _leaks(scan: Scan, language: str, check) -> list[str]:
    """Each problem once, with the first page it was seen on."""
    found: dict[tuple[str, str], str] = {}
    for visit in scan.visits:
        if visit.language != language:
            continue
        for chunk in visible_chunks(visit.html):
            text = without_user_data(chunk, scan.user_data)
            if any(re.search(pattern, text.strip()) for pattern in KNOWN_LEAKS):
                continue
            problem = check(text, chunk)
            if problem:
                found.setdefault((problem, " ".join(text.split())[:160]), f"{visit.who}: {visit.what} [{visit.status}]")
    return [f"{problem} in {text!r} (first: {where})" for (problem, text), where in sorted(found.items())]


def test_the_scan_saw_every_kind_of_event_and_many_refusals(scan):
    """The tour is only worth what it visits: every timeline event kind a person can cause,
    and at least a refusal for every screen that refuses."""
    both = [v for v in scan.visits]
    assert {v.language for v in both} == set(LANGUAGES)
    html = "\n".join(v.html for v in scan.visits)
    seen = set(re.findall(r'<li data-kind="([a-z_]+)"', html))
    assert {"received", "queued", "offered", "declined", "escalated", "handed_back", "answered", "taken_over", "note",
            "action", "answer_time_exceeded", "resolved", "closed", "mission_accepted"} <= seen, seen
    refusals = [v for v in scan.visits if v.what.startswith("refusal") and v.status >= 400]
    assert len(refusals) >= 60, len(refusals)


def test_every_page_route_is_visited(scan):
    pages = _page_routes(scan.app)
    assert pages - scan.routes_visited == set(), "pages the language scan does not visit"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_words_of_the_other_language(scan, language):
    en_only, nb_only = word_lists()
    foreign = en_only if language == "nb" else nb_only

    def check(text, _chunk):
        words = sorted(_words(text) & foreign)
        return f"{words}" if words else None

    leaks = _leaks(scan, language, check)
    assert not leaks, f"{len(leaks)} leaks:\n" + "\n".join(leaks)


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_raw_codes(scan, language):
    def check(text, chunk):
        problems = [c for c in SNAKE.findall(text) if c not in CODES_TO_TYPE] + ACTOR.findall(chunk)
        if LANGUAGE_CODE.match(text.strip()) or re.search(r"(Språk|Language)\s*:?\s*[a-z]{2}\b", text):
            problems.append(f"language code {text.strip()!r}")
        problems += [f"{n} s" for n in SECONDS.findall(text) if int(n) > 120]
        return f"{problems}" if problems else None

    leaks = _leaks(scan, language, check)
    assert not leaks, f"{len(leaks)} leaks:\n" + "\n".join(leaks)


def test_the_word_lists_catch_a_leak():
    """The lists are not empty and hold the words a leak would bring (a check on the check)."""
    en_only, nb_only = word_lists()
    assert {"cannot", "the", "closed"} <= en_only
    assert {"ikke", "alarmen", "lukket"} <= nb_only
    assert not (en_only & nb_only)


def test_known_leaks_are_still_there(scan):
    """A known leak that is fixed must leave KNOWN_LEAKS, so the exceptions never outlive it."""
    texts = {without_user_data(chunk, scan.user_data).strip() for visit in scan.visits
             for chunk in visible_chunks(visit.html)}
    gone = [pattern for pattern in KNOWN_LEAKS if not any(re.search(pattern, text) for text in texts)]
    assert not gone, f"fixed, remove from KNOWN_LEAKS: {gone}"
