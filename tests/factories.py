"""Plain factories for tests: registry rows (one centre, municipalities, recipients, devices,
staff), users, alarms, the invoicing and demo worlds, and the routing scenario driver.

Shared by test modules that need the same set-up; a test module never imports another test
module (the fixtures that wrap these are in the conftest.py files).

Only synthetic people: national ids come from ``synthetic_national_id`` (month + 80).
"""

from __future__ import annotations

import asyncio

import random
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Engine, delete, func, insert, select, update

from respons.auth import accounts, totp
from respons.domain.access import Role
from respons.domain.alarm_types import alarm_type
from respons.domain.identity import synthetic_national_id
from respons.domain.lifecycle import Action, CallResult, Outcome, State
from respons.engine import alarms as service
from respons.engine import receiving
from respons.runtime import TIMER_HANDLERS
from respons.engine import timeline as alarm_timeline
from respons.engine import routing, timers
from respons.epj import endpoints
from respons.store.db import write_transaction
from respons.store.tables import (
    agreement_windows,
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
    staff,
    zones,
)
from respons.store.tables import timers as timer_table

PASSWORD = "correct horse battery staple"


class FakeClock:
    """An injectable clock the test moves by hand."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


T0 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


@dataclass
class Registry:
    municipality_ids: list[int]
    recipient_ids: list[int]
    device_identities: list[str]
    operator_id: int
    responder_id: int
    intake_tokens: dict[int, str]  # municipality id -> API token (purpose intake)
    devices_by_municipality: dict[int, list[str]]

    def token_for_device(self, identity: str) -> str:
        for municipality_id, identities in self.devices_by_municipality.items():
            if identity in identities:
                return self.intake_tokens[municipality_id]
        raise KeyError(identity)


def seed_registry(engine: Engine, *, municipalities_count: int = 2, recipients_per: int = 3, now: datetime = T0) -> Registry:
    rng = random.Random(7)
    registry = Registry([], [], [], 0, 0, {}, {})
    with write_transaction(engine) as conn:  # BEGIN IMMEDIATE on SQLite: a running app's journal may write too
        centre_id = conn.execute(insert(centres).values(name="Testsenteret", created_at=now)).inserted_primary_key[0]
        for m in range(municipalities_count):
            mid = conn.execute(
                insert(municipalities).values(
                    number=f"{9000 + m}",
                    name=f"Testkommune {m}",
                    population=10000,
                    role="host" if m == 0 else "cooperating",
                    centre_id=centre_id,
                    created_at=now,
                )
            ).inserted_primary_key[0]
            registry.municipality_ids.append(mid)
            registry.devices_by_municipality[mid] = []
            conn.execute(insert(agreements).values(municipality_id=mid, centre_id=centre_id, valid_from=date(2025, 1, 1), created_at=now))
            registry.intake_tokens[mid] = accounts.create_token(
                conn, name=f"Vendor for {mid}", municipality_id=mid, purpose="intake", actor="test", created_by=None, now=now
            )[1]
            zid = conn.execute(insert(zones).values(municipality_id=mid, code=f"Z{m}", name=f"Sone {m}")).inserted_primary_key[0]
            for r in range(recipients_per):
                rid = conn.execute(
                    insert(recipients).values(
                        municipality_id=mid,
                        zone_id=zid,
                        national_id=synthetic_national_id(date(1935 + r, 1 + m % 12, 10 + m // 12), rng),
                        given_name=f"Test{r}",
                        family_name=f"Person{m}",
                        birth_date=date(1935 + r, 1 + m % 12, 10 + m // 12),
                        address=f"Testveien {m * 100 + r + 1}",
                        postal_code="4600",
                        city="Testby",
                        created_at=now,
                        updated_at=now,
                    )
                ).inserted_primary_key[0]
                registry.recipient_ids.append(rid)
                identity = f"TA-{m:02d}{r:04d}"
                conn.execute(
                    insert(devices).values(
                        municipality_id=mid,
                        recipient_id=rid,
                        kind="safety_alarm",
                        protocol="http",
                        identity=identity,
                        created_at=now,
                    )
                )
                registry.device_identities.append(identity)
                registry.devices_by_municipality[mid].append(identity)
        first = registry.municipality_ids[0]
        registry.operator_id = conn.execute(
            insert(staff).values(municipality_id=first, name="Olga Operatør", role="operator", competence="nurse")
        ).inserted_primary_key[0]
        registry.responder_id = conn.execute(
            insert(staff).values(municipality_id=first, name="Rune Responder", role="responder", competence="nurse")
        ).inserted_primary_key[0]
    return registry


@dataclass(frozen=True)
class TestUser:
    id: int
    username: str
    totp_secret: str | None


def add_user(engine: Engine, username: str, grants: list[tuple[Role, int | None]], *, totp_enrolled: bool | None = None, now: datetime = T0) -> TestUser:
    """A user with the given role grants; administrators get a TOTP secret unless told otherwise."""
    if totp_enrolled is None:
        totp_enrolled = any(role.is_admin for role, _ in grants)
    secret = totp.new_secret() if totp_enrolled else None
    with write_transaction(engine) as conn:  # BEGIN IMMEDIATE on SQLite: a running app's journal may write too
        user_id = accounts.create_user(conn, username=username, display_name=username.title(), password=PASSWORD, now=now, totp_secret=secret)
        for role, municipality_id in grants:
            accounts.grant_role(conn, user_id=user_id, role=role, municipality_id=municipality_id, actor="test", now=now)
    return TestUser(user_id, username, secret)


def log_in(client, user: TestUser, clock) -> dict[str, str]:
    """Log ``client`` in as ``user``; return the headers that unsafe requests need (CSRF)."""
    body = {"username": user.username, "password": PASSWORD}
    if user.totp_secret:
        body["totp"] = totp.code_at(user.totp_secret, clock())
    response = client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


@contextmanager
def people_logged_in(app, engine: Engine, clock):
    """``as_user(name, grants)`` → a TestClient (app started) logged in as a new user with the
    grants; every client is closed at the end."""
    from fastapi.testclient import TestClient

    with ExitStack() as stack:
        def as_user(name: str, grants: list[tuple[Role, int | None]]):
            client = stack.enter_context(TestClient(app, base_url="https://testserver"))
            client.headers.update(log_in(client, add_user(engine, name, grants), clock))
            return client

        yield as_user


def new_alarm(registry, type_code="button_press", key=None, fingerprint="f1", recipient_index=0):
    """A button press (or ``type_code``) from the first municipality's recipient, 2 s before T0."""
    return receiving.NewAlarm(
        municipality_id=registry.municipality_ids[0],
        recipient_id=registry.recipient_ids[recipient_index],
        device_id=None,
        alarm_type=alarm_type(type_code),
        source="http",
        actor="device:TA-test",
        occurred_at=T0 - timedelta(seconds=2),
        idempotency_scope="test" if key else None,
        idempotency_key=key,
        fingerprint=fingerprint,
    )


@dataclass(frozen=True)
class EpjCentre:
    """An operator and a safety alarm of the first municipality's first recipient, whose EPJ
    receives documents at the endpoint given to ``epj_centre``."""

    municipality_id: int
    recipient_id: int
    device_id: int
    device_identity: str
    operator: str

    def close(self, journal, count: int) -> list[str]:
        return closed_alarms(journal, municipality_id=self.municipality_id, recipient_id=self.recipient_id,
                             device_id=self.device_id, device_identity=self.device_identity, operator=self.operator,
                             count=count)


def epj_centre(engine: Engine, registry: Registry, base_url: str) -> EpjCentre:
    municipality, recipient = registry.municipality_ids[0], registry.recipient_ids[0]
    operator = f"user:{add_user(engine, 'epj-operator', [(Role.OPERATOR, None)]).id}"
    with write_transaction(engine) as conn:
        endpoints.set_endpoint(conn, municipality, base_url=base_url, auth="none", now=T0, actor="test")
        device_id = conn.execute(insert(devices).values(municipality_id=municipality, recipient_id=recipient,
                                                        kind="safety_alarm", protocol="http", identity="SA-EPJ",
                                                        created_at=T0)).inserted_primary_key[0]
    return EpjCentre(municipality, recipient, device_id, "SA-EPJ", operator)


def closed_alarms(journal, *, municipality_id: int, recipient_id: int, device_id: int, device_identity: str,
                  operator: str, count: int, start: datetime = T0) -> list[str]:
    """``count`` alarms received, answered, the recipient called (answered), resolved at the
    centre and closed — each step for all alarms submitted together, so the journal commits
    them as a few batches instead of one transaction per step. Alarm n arrives at start + n s."""
    def each(step) -> list:
        futures = [journal.submit(lambda conn, n=n: step(conn, n)) for n in range(count)]
        return [future.result() for future in futures]

    def at(n: int, seconds: int = 0) -> datetime:
        return start + timedelta(seconds=n + seconds)

    ids = [r.alarm_id for r in each(lambda conn, n: receiving.receive(conn, receiving.NewAlarm(
        municipality_id, recipient_id, device_id, alarm_type("fall"), "http", f"device:{device_identity}", at(n)),
        now=at(n), answer_deadline=timedelta(seconds=60)))]
    each(lambda conn, n: service.answer(conn, ids[n], actor=operator, visible_to=None, now=at(n, 10)))
    each(lambda conn, n: service.record_action(conn, ids[n], action=Action.CALL_RECIPIENT, actor=operator,
                                               visible_to=None, now=at(n, 20), result=CallResult.ANSWERED))
    each(lambda conn, n: service.resolve(conn, ids[n], actor=operator, visible_to=None,
                                         outcome=Outcome.RESOLVED_AT_CENTRE, note=None, now=at(n, 30)))
    each(lambda conn, n: service.close(conn, ids[n], actor=operator, visible_to=None, now=at(n, 40)))
    return ids


# --- invoicing ------------------------------------------------------------------------------

ECONOMY_NOW = datetime(2026, 2, 3, 9, 0, tzinfo=timezone.utc)


def seed_economy(engine: Engine):
    """The invoicing world: a centre, two municipalities with price models (one indexed from
    2025), service periods, a budget, a deflator and January's priced alarms.
    Returns (centre_id, municipality a, municipality b, {municipality: recipient ids})."""
    registry = seed_registry(engine)
    a, b = registry.municipality_ids[:2]
    with engine.begin() as conn:
        centre_id = conn.execute(select(municipalities.c.centre_id).where(municipalities.c.id == a)).scalar_one()
        conn.execute(update(municipalities).where(municipalities.c.id == a).values(population=30_000))
        owner = dict(conn.execute(select(recipients.c.id, recipients.c.municipality_id)).all())
        people = {m: sorted(r for r, mid in owner.items() if mid == m) for m in (a, b)}
        agreement = dict(conn.execute(select(agreements.c.municipality_id, agreements.c.id)).all())
        # A: one recipient all January, one from the 11th (21 days), one until the 21st (20 days).
        # B: all three all month.
        conn.execute(insert(service_periods), [
            dict(recipient_id=people[a][0], starts_on=date(2025, 6, 1), ends_on=None),
            dict(recipient_id=people[a][1], starts_on=date(2026, 1, 11), ends_on=None),
            dict(recipient_id=people[a][2], starts_on=date(2025, 3, 1), ends_on=date(2026, 1, 21)),
            *[dict(recipient_id=r, starts_on=date(2025, 1, 1), ends_on=None) for r in people[b]],
        ])
        conn.execute(insert(price_models), [
            dict(agreement_id=agreement[a], valid_from=date(2025, 1, 1), base_year=2025, created_at=ECONOMY_NOW, created_by="test",
                 components=[{"kind": "per_user_month", "price": "106.97", "label": "Full responstjeneste"},
                             {"kind": "per_event", "price": "12.50", "label": "GPS og digitalt tilsyn",
                              "alarm_types": ["geofence_exit", "supervision_due"]},
                             {"kind": "budget_share", "budget": "svartjeneste"},
                             {"kind": "per_inhabitant", "price": "3.00", "due": "01-15"}]),
            dict(agreement_id=agreement[b], valid_from=date(2026, 1, 1), base_year=2026, created_at=ECONOMY_NOW, created_by="test",
                 components=[{"kind": "per_user_month", "price": "32.74", "label": "Kun backup"},
                             {"kind": "budget_share", "budget": "svartjeneste"}]),
        ])
        conn.execute(insert(budgets).values(centre_id=centre_id, year=2026, name="svartjeneste", amount_ore=120_000_000,
                                            fixed_share="0.41"))
        conn.execute(insert(deflators).values(year=2026, rate="0.043", source="test"))
        events = [("geofence_exit", datetime(2025, 12, 31, 23, 30, tzinfo=timezone.utc)),  # 00:30 on 1 January in Oslo
                  ("geofence_exit", datetime(2026, 1, 12, 8, 0, tzinfo=timezone.utc)),
                  ("supervision_due", datetime(2026, 1, 20, 2, 0, tzinfo=timezone.utc)),
                  ("supervision_due", datetime(2026, 1, 31, 23, 30, tzinfo=timezone.utc)),  # 1 February in Oslo
                  ("button_press", datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc))]  # not priced per event
        conn.execute(insert(alarms), [dict(
            id=f"e-{i}", municipality_id=a, recipient_id=people[a][0], type=kind, category="location", priority=2,
            source="test", occurred_at=at, received_at=at, state="closed", seq=1) for i, (kind, at) in enumerate(events)])
    return centre_id, a, b, people


# --- the demo centre ------------------------------------------------------------------------

DEMO_NOW = datetime(2026, 11, 23, 9, 30, tzinfo=timezone.utc)
DEMO_RECIPIENTS = 300


def seed_demo_centre(engine: Engine, **kwargs) -> str:
    """The demo centre (respons.demo.seed) at DEMO_NOW, with DEMO_RECIPIENTS unless told otherwise."""
    from respons.demo.seed import seed_demo

    return seed_demo(engine, now=DEMO_NOW, recipients=kwargs.pop("recipients", DEMO_RECIPIENTS), **kwargs)


# --- routing scenarios ----------------------------------------------------------------------

CARE = ["assistance", "fall", "sensor"]
LEASE = timedelta(seconds=30)


class Scenario:
    """Routing and escalation with a fake clock: the municipality's agreement windows,
    responders logged in to zones, alarms through ``receive``, and every timer fired where it
    falls due as the timer worker would (claim, then fire with the fence)."""

    def __init__(self, engine, journal, registry, clock):
        self.engine, self.journal, self.registry, self.clock = engine, journal, registry, clock
        self.municipality = registry.municipality_ids[0]
        self.recipient = registry.recipient_ids[0]
        with engine.connect() as conn:
            self.zone = conn.execute(select(zones.c.id).where(zones.c.municipality_id == self.municipality)).scalar_one()
        self.scope = frozenset(registry.municipality_ids)

    def windows(self, *windows: dict, resend_seconds: int | None = None, kin_confirm_minutes: int | None = None) -> None:
        with self.engine.begin() as conn:
            agreement = conn.execute(select(agreements.c.id).where(agreements.c.municipality_id == self.municipality)).scalar_one()
            conn.execute(delete(agreement_windows).where(agreement_windows.c.agreement_id == agreement))
            conn.execute(insert(agreement_windows), [{"agreement_id": agreement, "weekdays": "1234567", "device_kinds": None, **w}
                                                     for w in windows])
            conn.execute(update(agreements).where(agreements.c.id == agreement)
                         .values(resend_seconds=resend_seconds, kin_confirm_minutes=kin_confirm_minutes))

    def responder(self, name: str, *, zones_: list[int] | None = None, technician: bool = False) -> int:
        role = Role.TECHNICIAN if technician else Role.RESPONDER
        user = add_user(self.engine, name, [(role, self.municipality)])
        if technician:
            self.journal.run_sync(lambda c: routing.log_in_as_technician(c, user_id=user.id, municipality_id=self.municipality,
                                                                         now=self.clock()))
        else:
            self.journal.run_sync(lambda c: routing.log_in_to_zones(c, user_id=user.id, zone_ids=zones_ or [self.zone],
                                                                    role="responder", now=self.clock(),
                                                                    municipality_ids=self.scope))
        return user.id

    def alarm(self, code: str = "button_press", recipient: int | None = None) -> str:
        new = receiving.NewAlarm(self.municipality, recipient or self.recipient, None, alarm_type(code), "http", "test",
                               self.clock())
        return self.journal.run_sync(lambda c: receiving.receive(c, new, now=self.clock(),
                                                               answer_deadline=timedelta(seconds=60))).alarm_id

    def advance(self, seconds: float) -> None:
        """Move the clock to each moment a timer falls due (or a claim's lease runs out),
        firing it there as the worker would, then on to the end."""
        end = self.clock() + timedelta(seconds=seconds)
        while True:
            for claim in self.journal.run_sync(lambda c: timers.claim_due(c, now=self.clock(), node="n1", lease=LEASE)):
                self.journal.run_sync(lambda c: timers.fire(c, claim, now=self.clock(), handlers=TIMER_HANDLERS))
            with self.engine.connect() as conn:
                due = conn.execute(select(func.min(timer_table.c.due_at)).where(timer_table.c.state == "pending")).scalar()
                lease = conn.execute(select(func.min(timer_table.c.lease_until)).where(timer_table.c.state == "claimed")).scalar()
            # A claim is taken over only once its lease has run out (strictly after).
            moments = [t for t in (due, lease + timedelta(milliseconds=1) if lease else None) if t is not None]
            upcoming = min(moments) if moments else None
            if upcoming is None or upcoming > end:
                self.clock.now = end
                return
            self.clock.now = max(self.clock(), upcoming)

    def state(self, alarm_id: str) -> State:
        with self.engine.connect() as conn:
            return State(conn.execute(select(alarms.c.state).where(alarms.c.id == alarm_id)).scalar_one())

    def events(self, alarm_id: str) -> list[tuple[str, dict]]:
        with self.engine.connect() as conn:
            return [(e.kind.value, e.data) for e in alarm_timeline.load_timeline(conn, alarm_id)]

    def kinds(self, alarm_id: str) -> list[str]:
        return [k for k, _ in self.events(alarm_id)]


def full_day(model: int, categories=CARE, escalation_minutes=None) -> dict:
    return {"service_model": model, "starts": time(0), "ends": time(0), "categories": categories,
            "escalation_minutes": escalation_minutes}


def dispatched(world) -> str:
    """An alarm the centre answered and sent home care to (5 min to accept, 60 to finish)."""
    from respons.engine import missions

    world.windows(full_day(1))
    alarm_id = world.alarm("fall")
    world.journal.run_sync(lambda c: service.answer(c, alarm_id, actor="user:999", visible_to=None, now=world.clock()))
    world.journal.run_sync(lambda c: missions.dispatch(c, alarm_id, actor="user:999", visible_to=None, now=world.clock(),
                                                       accept_within=timedelta(minutes=5),
                                                       complete_within=timedelta(minutes=60)))
    return alarm_id


def routing_action(name: str):
    from respons.domain.lifecycle import Action

    return Action(name)


def drain_deliveries(worker) -> None:
    """Run a delivery worker's rounds until nothing is due."""
    while asyncio.run(worker.run_once()):
        pass
