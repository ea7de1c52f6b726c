"""Log-in, sessions, tokens and audited reads over HTTP, on both databases."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from respons.auth import audit, totp
from respons.auth.token_cache import TTL, TokenCache
from respons.domain.access import Role
from respons.settings import Settings
from respons.store.tables import alarms, api_tokens, audit_log
from respons.web.app import create_app
from tests.factories import PASSWORD, T0, add_user, log_in


@pytest.fixture
def client(migrated_url, registry, clock):
    app = create_app(Settings(database_url=migrated_url, session_hours=8), clock, run_timers=False)
    with TestClient(app, base_url="https://testserver") as c:
        yield c


def login(client, username, password=PASSWORD, code=None):
    body = {"username": username, "password": password}
    if code:
        body["totp"] = code
    return client.post("/api/v1/auth/login", json=body)


def audit_actions(engine):
    with engine.connect() as conn:
        return [(r.action, r.actor) for r in conn.execute(select(audit_log).order_by(audit_log.c.seq))]


def test_repeated_failures_slow_the_address_down_without_locking_the_account(client, engine, clock):
    """Failures hold back the next attempt from the same address for a while (429 with
    Retry-After), even with the right password; after the wait the right password works."""
    user = add_user(engine, "olga", [(Role.OPERATOR, None)])
    for _ in range(3):
        assert login(client, "olga", "wrong password!").json()["error"] == "bad_credentials"
    assert login(client, "olga", "wrong password!").json()["error"] == "bad_credentials"
    held = login(client, "olga")
    assert held.status_code == 429 and held.json()["error"] == "throttled"
    assert int(held.headers["Retry-After"]) == 2
    clock.advance(seconds=2)
    assert login(client, "olga").status_code == 200, "the wait is over"
    assert ("login_failed", f"user:{user.id}") in audit_actions(engine)


def test_an_address_that_fails_too_often_is_refused_for_every_account(client, engine):
    add_user(engine, "olga", [(Role.OPERATOR, None)])
    for i in range(20):
        login(client, f"guess{i}", "wrong password!")
    refused = login(client, "olga")
    assert refused.status_code == 429 and refused.json()["error"] == "address_limited"


def test_unknown_user_and_wrong_password_look_the_same(client, engine):
    add_user(engine, "olga", [(Role.OPERATOR, None)])
    assert login(client, "nobody").json() == login(client, "olga", "wrong password!").json()


def test_administrators_must_use_two_factor(client, engine, clock):
    admin = add_user(engine, "hanne", [(Role.HOST_ADMIN, None)])
    assert login(client, "hanne").json()["error"] == "bad_credentials"
    assert login(client, "hanne", code="000000").json()["error"] == "bad_credentials"
    assert login(client, "hanne", code=totp.code_at(admin.totp_secret, clock())).status_code == 200
    with engine.connect() as conn:
        reasons = [r["details"]["reason"] for r in audit.search(conn, action=audit.LOGIN_FAILED)]
    assert reasons == ["bad_totp", "totp_required"], "newest first: the auditor sees what the caller is not told"


def test_administrator_without_two_factor_cannot_log_in(client, engine):
    add_user(engine, "kari", [(Role.MUNICIPALITY_ADMIN, 1)], totp_enrolled=False)
    refused = login(client, "kari")
    assert refused.status_code == 401 and refused.json()["error"] == "bad_credentials"
    with engine.connect() as conn:
        assert audit.search(conn, action=audit.LOGIN_FAILED)[0]["details"]["reason"] == "totp_enrolment_required"


def test_session_cookie_is_hardened_and_dead_after_logout(client, engine, clock):
    user = add_user(engine, "olga", [(Role.OPERATOR, None)])
    response = login(client, "olga")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    stolen = client.cookies.get("respons_session")
    csrf = {"X-CSRF-Token": response.json()["csrf_token"]}
    assert client.get("/api/v1/queue").status_code == 200
    assert client.post("/api/v1/auth/logout", headers=csrf).status_code == 204
    client.cookies.set("respons_session", stolen, domain="testserver")
    assert client.get("/api/v1/queue").status_code == 401, "a logged-out session must not come back"
    assert ("logout", f"user:{user.id}") in audit_actions(engine)


def test_session_expires(client, engine, clock):
    add_user(engine, "olga", [(Role.OPERATOR, None)])
    assert login(client, "olga").status_code == 200
    clock.advance(hours=7, minutes=59)
    assert client.get("/api/v1/queue").status_code == 200
    clock.advance(minutes=2)
    assert client.get("/api/v1/queue").status_code == 401


def test_log_in_rotates_the_session(client, engine):
    add_user(engine, "olga", [(Role.OPERATOR, None)])
    login(client, "olga")
    first = client.cookies.get("respons_session")
    login(client, "olga")
    assert client.cookies.get("respons_session") != first


def test_token_of_one_municipality_cannot_raise_alarms_for_another(client, registry, engine):
    a, b = registry.municipality_ids
    device_of_b = registry.devices_by_municipality[b][0]
    body = {"device": device_of_b, "type": "fall", "occurred_at": "2026-11-23T01:59:00Z"}
    refused = client.post("/api/v1/alarms", json=body, headers={"Authorization": f"Bearer {registry.intake_tokens[a]}"})
    assert refused.status_code == 422 and refused.json()["error"] == "unknown_device"
    accepted = client.post("/api/v1/alarms", json=body, headers={"Authorization": f"Bearer {registry.intake_tokens[b]}"})
    assert accepted.status_code == 202
    with engine.connect() as conn:
        assert conn.execute(select(alarms.c.municipality_id)).scalars().all() == [b]


def test_revoked_and_unknown_tokens_are_refused(client, registry, engine, clock):
    a = registry.municipality_ids[0]
    body = {"device": registry.devices_by_municipality[a][0], "type": "fall", "occurred_at": "2026-11-23T01:59:00Z"}
    assert client.post("/api/v1/alarms", json=body).status_code == 401
    assert client.post("/api/v1/alarms", json=body, headers={"Authorization": "Bearer rsp_made-up"}).status_code == 401
    admin = add_user(engine, "hanne", [(Role.HOST_ADMIN, None)])
    csrf = log_in(client, admin, clock)
    issued = client.post("/api/v1/admin/tokens", json={"name": "Leverandør", "municipality_id": a}, headers=csrf).json()
    token_headers = {"Authorization": f"Bearer {issued['token']}"}
    assert client.post("/api/v1/alarms", json=body, headers=token_headers).status_code == 202
    assert client.delete(f"/api/v1/admin/tokens/{issued['id']}", headers=csrf).status_code == 204
    assert client.post("/api/v1/alarms", json=body, headers=token_headers).status_code == 401
    actions = [a for a, _ in audit_actions(engine)]
    assert "token_create" in actions and "token_revoke" in actions


def test_a_token_revoked_outside_the_journal_is_refused_within_the_cache_ttl(client, registry, engine):
    # A revocation nobody announced (SQL by hand, another process on SQLite) is honoured once
    # the node looks the token up again: at most TTL after it last did (auth/token_cache.py).
    monotonic = FakeMonotonic()
    client.app.state.runtime.tokens = TokenCache(ttl=5.0, monotonic=monotonic)
    a = registry.municipality_ids[0]
    body = {"device": registry.devices_by_municipality[a][0], "type": "fall", "occurred_at": "2026-11-23T01:59:00Z"}
    headers = {"Authorization": f"Bearer {registry.intake_tokens[a]}"}
    assert client.post("/api/v1/alarms", json=body, headers=headers).status_code == 202
    with engine.begin() as conn:
        conn.execute(update(api_tokens).where(api_tokens.c.municipality_id == a).values(revoked_at=T0))
    monotonic.now += 4.0
    assert client.post("/api/v1/alarms", json=body, headers=headers).status_code == 202  # still trusted
    monotonic.now += 1.0
    assert client.post("/api/v1/alarms", json=body, headers=headers).status_code == 401


def test_a_token_revoked_on_one_node_is_refused_by_the_other_at_once(migrated_url, registry, engine, clock):
    if not migrated_url.startswith("postgresql"):
        pytest.skip("one node on SQLite: the announcement has no other node to reach")
    a = registry.municipality_ids[0]
    body = {"device": registry.devices_by_municipality[a][0], "type": "fall", "occurred_at": "2026-11-23T01:59:00Z"}
    admin = add_user(engine, "hanne", [(Role.HOST_ADMIN, None)])
    nodes = [create_app(Settings(database_url=migrated_url, node_name=name), clock, run_timers=False)
             for name in ("node-a", "node-b")]
    with TestClient(nodes[0], base_url="https://testserver") as first, \
            TestClient(nodes[1], base_url="https://testserver") as second:
        csrf = log_in(first, admin, clock)
        issued = first.post("/api/v1/admin/tokens", json={"name": "Leverandør", "municipality_id": a}, headers=csrf).json()
        headers = {"Authorization": f"Bearer {issued['token']}"}
        assert second.post("/api/v1/alarms", json=body, headers=headers).status_code == 202  # now remembered there
        assert first.delete(f"/api/v1/admin/tokens/{issued['id']}", headers=csrf).status_code == 204
        # Well inside the cache's TTL: only the announcement can have made node B forget.
        deadline = time.monotonic() + TTL / 2
        while (status := second.post("/api/v1/alarms", json=body, headers=headers).status_code) == 202:
            assert time.monotonic() < deadline, "node B still accepts a token node A revoked"
            time.sleep(0.05)
        assert status == 401


def test_a_lookup_racing_a_revocation_does_not_leave_the_token_trusted(client, registry, engine, clock, monkeypatch):
    # The lookup reads the token valid; before it returns, the revocation commits and the
    # live bus tells the cache (another thread). The lookup's answer must not be remembered.
    from respons.auth import accounts
    from respons.web import access

    rt = client.app.state.runtime
    a = registry.municipality_ids[0]
    with engine.connect() as conn:
        token_id = conn.execute(select(api_tokens.c.id).where(api_tokens.c.municipality_id == a)).scalar_one()
    original, raced = accounts.token_for, []

    def lookup_overtaken_by_a_revocation(conn, token):
        found = original(conn, token)
        if not raced:
            raced.append(True)
            told = rt.tokens.generation
            rt.journal.submit(lambda c: accounts.revoke_token(c, token_id, actor="test", now=clock())).result()
            deadline = time.monotonic() + 5
            while rt.tokens.generation == told:  # the bus tells the cache just after the commit
                assert time.monotonic() < deadline
                time.sleep(0.001)
        return found

    monkeypatch.setattr(access.accounts, "token_for", lookup_overtaken_by_a_revocation)
    body = {"device": registry.devices_by_municipality[a][0], "type": "fall", "occurred_at": "2026-11-23T01:59:00Z"}
    headers = {"Authorization": f"Bearer {registry.intake_tokens[a]}"}
    assert client.post("/api/v1/alarms", json=body, headers=headers).status_code == 202  # read before the revocation
    assert client.post("/api/v1/alarms", json=body, headers=headers).status_code == 401


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_unauthenticated_garbage_is_not_quarantined(client, engine):
    response = client.post("/api/v1/alarms", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 401
    from respons.store.tables import quarantine

    with engine.connect() as conn:
        assert conn.execute(select(quarantine)).all() == []


def test_opening_an_alarm_writes_an_audited_read_before_showing_it(client, registry, engine, clock):
    a = registry.municipality_ids[0]
    body = {"device": registry.devices_by_municipality[a][0], "type": "fall", "occurred_at": "2026-11-23T01:59:00Z"}
    alarm_id = client.post("/api/v1/alarms", json=body, headers={"Authorization": f"Bearer {registry.intake_tokens[a]}"}).json()["alarm_id"]
    operator = add_user(engine, "olga", [(Role.OPERATOR, None)])
    log_in(client, operator, clock)
    assert client.get(f"/api/v1/alarms/{alarm_id}").status_code == 200
    with engine.connect() as conn:
        reads = audit.search(conn, actor=f"user:{operator.id}", action=audit.READ_RECIPIENT)
        assert audit.verify(conn).ok
    assert len(reads) == 1
    assert reads[0]["alarm_id"] == alarm_id and reads[0]["recipient_id"] == registry.recipient_ids[0]
    assert reads[0]["purpose"] == "alarm"


def test_auditor_searches_reads_of_own_municipality_only(client, registry, engine, clock):
    a, b = registry.municipality_ids
    with engine.begin() as conn:
        for mid, rid in ((a, registry.recipient_ids[0]), (b, registry.recipient_ids[-1])):
            audit.append(conn, now=clock(), actor="user:77", action=audit.READ_RECIPIENT, municipality_id=mid,
                         recipient_id=rid, purpose="alarm")
    auditor = add_user(engine, "rita", [(Role.AUDITOR, a)])
    log_in(client, auditor, clock)
    found = client.get("/api/v1/audit", params={"actor": "user:77", "since": "2026-11-23", "until": "2026-11-23"}).json()
    assert [(r["municipality_id"], r["recipient_id"]) for r in found] == [(a, registry.recipient_ids[0])]
    assert client.get("/api/v1/audit", params={"actor": "user:77", "since": "2026-11-24"}).json() == []


def test_a_name_that_matches_no_account_is_not_kept_in_clear(client, engine):
    login(client, "my secret password", "x")
    with engine.connect() as conn:
        record = audit.search(conn, action=audit.LOGIN_FAILED)[0]
    assert "my secret password" not in str(record)
    assert record["details"]["username_sha256"]


def test_a_hash_with_old_argon2_parameters_is_upgraded_at_log_in(client, engine, production_password_hashing):
    from argon2 import PasswordHasher

    from respons.auth import passwords
    from respons.store.tables import users

    user = add_user(engine, "olga", [(Role.OPERATOR, None)])
    weak = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    with engine.begin() as conn:
        conn.execute(users.update().where(users.c.id == user.id).values(password_hash=weak))
    assert login(client, "olga").status_code == 200
    with engine.connect() as conn:
        upgraded = conn.execute(select(users.c.password_hash).where(users.c.id == user.id)).scalar_one()
    assert upgraded != weak and not passwords.needs_rehash(upgraded)
    assert passwords.verify_password(upgraded, PASSWORD)
