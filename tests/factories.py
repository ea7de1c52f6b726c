"""Minimal registry rows for tests: one centre, municipalities, recipients, devices, staff.

Only synthetic people: national ids come from ``synthetic_national_id`` (month + 80).
"""

from __future__ import annotations

import random
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import Engine, insert

from respons.auth import accounts, totp
from respons.domain.access import Role
from respons.domain.identity import synthetic_national_id
from respons.store.db import write_transaction
from respons.store.tables import agreements, centres, devices, municipalities, recipients, staff, zones

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
