"""Issue 15, authentication: a TOTP code is used once, failed log-ins slow the attacker
without locking the operator out from elsewhere, an administrator can unlock, the client
address is read from X-Forwarded-For only through trusted proxies, and an administrator's
password cannot be probed without the code. Over HTTP, on both databases."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select

from respons.auth import accounts, audit, totp
from respons.domain.access import Role
from respons.settings import Settings
from respons.store.tables import login_failures, sessions, users
from respons.web import server
from respons.web.app import create_app
from tests.factories import PASSWORD, add_user, log_in

ATTACKER = "198.51.100.66"
OPERATOR_DESK = "10.20.0.15"


@pytest.fixture
def app(migrated_url, registry, clock):
    return create_app(Settings(database_url=migrated_url, session_hours=8), clock, run_timers=False)


@pytest.fixture
def clients(app):
    """``from_address(ip)`` → a TestClient whose requests come from ``ip``."""
    opened = []

    def from_address(address: str, **kwargs) -> TestClient:
        client = TestClient(app, base_url="https://testserver", client=(address, 40000), **kwargs)
        client.__enter__()
        opened.append(client)
        return client

    yield from_address
    for client in opened:
        client.__exit__(None, None, None)


def attempt(client, username, password=PASSWORD, code=None, headers=None):
    body = {"username": username, "password": password}
    if code is not None:
        body["totp"] = code
    return client.post("/api/v1/auth/login", json=body, headers=headers)


def failed_reasons(engine) -> list[str]:
    with engine.connect() as conn:
        return [r["details"]["reason"] for r in reversed(audit.search(conn, action=audit.LOGIN_FAILED))]


def failure_addresses(engine) -> list[str]:
    with engine.connect() as conn:
        return conn.execute(select(login_failures.c.remote_addr).order_by(login_failures.c.id)).scalars().all()


# --- TOTP: one code, one log-in (RFC 6238 §5.2) ------------------------------------------------


def test_a_totp_code_is_accepted_once(clients, engine, clock):
    admin = add_user(engine, "hanne", [(Role.HOST_ADMIN, None)])
    desk = clients(OPERATOR_DESK)
    code = totp.code_at(admin.totp_secret, clock())
    assert attempt(desk, "hanne", code=code).status_code == 200
    clock.advance(seconds=5)
    replay = attempt(clients(ATTACKER), "hanne", code=code)  # e.g. read over the shoulder
    assert replay.status_code == 401 and replay.json()["error"] == "bad_credentials"
    # The previous step's code is still inside the ±30 s tolerance, but older than the one used.
    older = totp.code_at(admin.totp_secret, clock() - timedelta(seconds=30))
    assert attempt(desk, "hanne", code=older).status_code == 401
    assert failed_reasons(engine) == ["totp_replayed", "totp_replayed"]
    clock.advance(seconds=30)
    assert attempt(desk, "hanne", code=totp.code_at(admin.totp_secret, clock())).status_code == 200, "the next code works"
    with engine.connect() as conn:
        last_step = conn.execute(select(users.c.totp_last_step).where(users.c.id == admin.id)).scalar_one()
    assert last_step == int(clock().timestamp()) // 30


def test_passwords_are_checked_outside_the_journal_thread_that_commits_the_alarms(clients, engine, clock, monkeypatch):
    """argon2 costs a quarter of a second by design: on the journal's one writer thread, a
    shift's log-ins (or anyone's guesses) would hold back every alarm's commit."""
    from respons.auth import passwords

    add_user(engine, "olga", [(Role.OPERATOR, None)])
    threads = []
    verify = passwords.verify_password

    def recording(stored, password):
        threads.append(threading.current_thread().name)
        return verify(stored, password)

    monkeypatch.setattr(passwords, "verify_password", recording)
    desk = clients(OPERATOR_DESK)
    assert attempt(desk, "olga").status_code == 200
    assert attempt(desk, "olga", password="wrong").status_code == 401
    assert attempt(desk, "nobody").status_code == 401
    assert len(threads) == 3 and not any(name.startswith("respons-journal") for name in threads), threads
    # An attempt that is held back costs no check at all.
    attacker = clients(ATTACKER)
    while attempt(attacker, "olga", password="guess guess guess").status_code != 429:
        pass
    checks = len(threads)
    assert attempt(attacker, "olga").status_code == 429
    assert len(threads) == checks


def test_a_code_that_is_not_ascii_digits_is_a_wrong_code_whatever_the_password(clients, engine, clock):
    """A non-ASCII code answered a right password with a 500 and a wrong one with 401: the
    password could be confirmed without the second factor, and unaudited."""
    admin = add_user(engine, "hanne", [(Role.HOST_ADMIN, None)])
    desk = clients(OPERATOR_DESK)
    for password in (PASSWORD, "wrong password"):
        for code in ("é12345", "１２３４５６"):
            refused = attempt(desk, "hanne", password=password, code=code)
            assert refused.status_code == 401 and refused.json()["error"] == "bad_credentials", (password, code)
    assert failed_reasons(engine).count("bad_totp") == 2
    clock.advance(seconds=120)  # past the failures' wait
    # A code copied with a no-break space in the middle is still the code.
    code = totp.code_at(admin.totp_secret, clock())
    assert attempt(desk, "hanne", code=f"{code[:3]}\u00a0{code[3:]}").status_code == 200


def test_the_log_in_page_refuses_a_non_ascii_form_token_as_any_wrong_one(clients):
    page = clients(OPERATOR_DESK)
    page.cookies.set("respons_login_csrf", "abc")
    answer = page.post("/login", data={"username": "x", "password": "y", "login_csrf": "é"})
    assert answer.status_code == 403


def test_a_code_from_the_next_step_cannot_be_used_again_in_that_step(clients, engine, clock):
    """A phone running 30 s fast sends the next step's code; once used, the code of the
    current step (earlier) is refused too, and so is the same code again."""
    admin = add_user(engine, "hanne", [(Role.HOST_ADMIN, None)])
    desk = clients(OPERATOR_DESK)
    ahead = totp.code_at(admin.totp_secret, clock() + timedelta(seconds=30))
    assert attempt(desk, "hanne", code=ahead).status_code == 200
    assert attempt(desk, "hanne", code=totp.code_at(admin.totp_secret, clock())).status_code == 401
    clock.advance(seconds=30)
    assert attempt(desk, "hanne", code=ahead).status_code == 401


# --- failed log-ins slow the attacker, never lock the operator out -----------------------------


def test_an_ipv6_attacker_taking_a_fresh_address_for_each_guess_is_counted_as_one_host(clients, engine, clock):
    """One ordinary IPv6 /64 is one host with 2^64 addresses: counted by the full address, each
    guess from a fresh one was never held back. The audit keeps each full address."""
    add_user(engine, "operator", [(Role.OPERATOR, None)])
    answers = [attempt(clients(f"2a01:4f8:66:1::{n:x}"), "operator", "guess guess guess") for n in range(1, 6)]
    assert [a.status_code for a in answers[:3]] == [401, 401, 401]
    assert answers[4].status_code == 429 and answers[4].json()["error"] == "throttled"
    assert set(failure_addresses(engine)) == {"2a01:4f8:66:1::/64"}
    with engine.connect() as conn:
        audited = {r["details"]["remote_addr"] for r in audit.search(conn, action=audit.LOGIN_FAILED)}
    assert "2a01:4f8:66:1::1" in audited
    # Another /64 (another home, another phone) is not held back by it; nor is a console on
    # the centre's own unique-local network, where many share a /64: counted one by one.
    assert attempt(clients("2a01:4f8:77:1::1"), "operator").status_code == 200
    for n in range(1, 6):
        assert attempt(clients(f"fd00:c0::{n:x}"), "operator", "guess guess guess").status_code == 401


def test_an_attacker_at_one_address_does_not_stop_the_operator_at_another(clients, engine, clock):
    operator = add_user(engine, "operator", [(Role.OPERATOR, None)])
    attacker, desk = clients(ATTACKER), clients(OPERATOR_DESK)
    waits = []
    for _ in range(12):
        answer = attempt(attacker, "operator", "guess guess guess")
        if answer.status_code == 429:
            assert answer.json()["error"] == "throttled"
            waits.append(int(answer.headers["Retry-After"]))
            clock.advance(seconds=waits[-1])
            answer = attempt(attacker, "operator", "guess guess guess")
        assert answer.status_code == 401 and answer.json()["error"] == "bad_credentials"
    # Three free failures, then each one doubles the wait: the attacker is slowed.
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256]
    # Even the right password waits at the attacker's address (no probing during the wait)...
    held = attempt(attacker, "operator")
    assert held.status_code == 429 and held.headers["Retry-After"] == "512"
    # ...while the operator at her own desk logs in at once, at 03:00, no administrator needed.
    assert log_in(desk, operator, clock)
    with engine.connect() as conn:
        assert conn.execute(select(sessions.c.remote_addr).where(sessions.c.user_id == operator.id)).scalar_one() == OPERATOR_DESK


def test_an_account_under_attack_from_many_addresses_only_slows_those_addresses(clients, engine, clock):
    """Ten failures against one account from other addresses withdraw an address's free
    failures: every address that has failed waits from its first failure on. An address that has not failed
    (the operator's) is not held back, and her own typo costs her two seconds, not a lock."""
    operator = add_user(engine, "operator", [(Role.OPERATOR, None)])
    for i in range(11):
        bot = clients(f"203.0.113.{i + 1}")
        assert attempt(bot, "operator", "guess guess guess").status_code == 401
    held = attempt(clients("203.0.113.1"), "operator", "another guess!!")
    assert held.status_code == 429 and held.json()["error"] == "throttled" and held.headers["Retry-After"] == "2"
    desk = clients(OPERATOR_DESK)
    assert attempt(desk, "operator", "typo in password").status_code == 401
    slowed = attempt(desk, "operator")
    assert slowed.status_code == 429 and slowed.headers["Retry-After"] == "2"
    clock.advance(seconds=2)
    assert log_in(desk, operator, clock)


def test_an_address_that_tries_many_names_is_refused_for_every_name_but_only_there(clients, engine, clock):
    add_user(engine, "olga", [(Role.OPERATOR, None)])
    attacker = clients(ATTACKER)
    for i in range(20):
        assert attempt(attacker, f"guess{i}", "wrong password!").status_code == 401
    refused = attempt(attacker, "olga")
    assert refused.status_code == 429 and refused.json()["error"] == "address_limited"
    assert int(refused.headers["Retry-After"]) == 15 * 60
    assert attempt(clients(OPERATOR_DESK), "olga").status_code == 200
    clock.advance(minutes=15)
    assert attempt(attacker, "olga").status_code == 200, "the window has passed"


def test_unknown_and_existing_user_names_are_held_back_alike(clients, engine, clock):
    add_user(engine, "olga", [(Role.OPERATOR, None)])
    attacker = clients(ATTACKER)
    answers = {}
    for name in ("olga", "nobody"):
        for _ in range(4):
            attempt(attacker, name, "wrong password!")
        held = attempt(attacker, name, "wrong password!")
        answers[name] = (held.status_code, held.json(), held.headers["Retry-After"])
    assert answers["olga"] == answers["nobody"] and answers["olga"][0] == 429


# --- an administrator unlocks ----------------------------------------------------------------


def test_a_host_administrator_unlocks_an_operator_at_once_and_it_is_audited(clients, engine, clock):
    """The centre's consoles may share one address with the attacker (a NAT): the host
    administrator ends the wait instead of making the operator sit it out."""
    operator = add_user(engine, "operator", [(Role.OPERATOR, None)])
    admin = add_user(engine, "hanne", [(Role.HOST_ADMIN, None)])
    colleague = add_user(engine, "per", [(Role.OPERATOR, None)])
    shared = clients(ATTACKER)
    for _ in range(10):
        answer = attempt(shared, "operator", "guess guess guess")
        if answer.status_code == 429:
            clock.advance(seconds=int(answer.headers["Retry-After"]))
            answer = attempt(shared, "operator", "guess guess guess")
        assert answer.status_code == 401
    held = attempt(shared, "operator")
    assert held.status_code == 429 and held.headers["Retry-After"] == "128"

    other_operator = clients(OPERATOR_DESK)
    log_in(other_operator, colleague, clock)
    forbidden = other_operator.post(f"/api/v1/admin/users/{operator.id}/unlock",
                                    headers={"X-CSRF-Token": other_operator.get("/api/v1/auth/me").json()["csrf_token"]})
    assert forbidden.status_code == 403, "only the host administrator unlocks"

    host = clients("10.20.0.2")
    csrf = log_in(host, admin, clock)
    assert host.post("/api/v1/admin/users/999999/unlock", headers=csrf).status_code == 404
    unlocked = host.post(f"/api/v1/admin/users/{operator.id}/unlock", headers=csrf)
    assert unlocked.status_code == 200 and unlocked.json() == {"user_id": operator.id, "failures_cleared": 10}
    assert attempt(shared, "operator").status_code == 200
    with engine.connect() as conn:
        record = audit.search(conn, action=audit.LOGIN_UNLOCK)[0]
        assert audit.verify(conn).ok
    assert record["actor"] == f"user:{admin.id}" and record["details"]["user_id"] == operator.id


# --- the client's address: X-Forwarded-For only from trusted proxies ---------------------------


def test_forwarded_for_is_ignored_from_a_peer_that_is_not_a_trusted_proxy(clients, engine, clock):
    """Without RESPONS_TRUSTED_PROXIES the header is the client's own words: rotating it does
    not rotate the address the limits count."""
    add_user(engine, "olga", [(Role.OPERATOR, None)])
    attacker = clients(ATTACKER)
    for i in range(4):
        attempt(attacker, "olga", "wrong password!", headers={"X-Forwarded-For": f"192.0.2.{i}"})
    held = attempt(attacker, "olga", headers={"X-Forwarded-For": "192.0.2.99"})
    assert held.status_code == 429
    assert set(failure_addresses(engine)) == {ATTACKER}


def test_forwarded_for_from_a_trusted_proxy_gives_the_rightmost_untrusted_hop(migrated_url, registry, engine, clock):
    add_user(engine, "olga", [(Role.OPERATOR, None)])
    settings = Settings(database_url=migrated_url, trusted_proxies="10.0.0.0/24, 10.9.9.9")
    app = create_app(settings, clock, run_timers=False)
    with TestClient(app, base_url="https://testserver", client=("10.0.0.7", 40000)) as balancer, \
            TestClient(app, base_url="https://testserver", client=("198.51.100.5", 40000)) as outsider:
        # The client wrote "1.2.3.4" itself; the first trusted proxy appended the address it saw.
        attempt(balancer, "olga", "wrong password!", headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.8, 10.9.9.9"})
        attempt(balancer, "olga", "wrong password!", headers={"X-Forwarded-For": "203.0.113.9"})
        attempt(balancer, "olga", "wrong password!")  # a health check from the balancer itself
        attempt(outsider, "olga", "wrong password!", headers={"X-Forwarded-For": "203.0.113.10"})
        assert failure_addresses(engine) == ["203.0.113.8", "203.0.113.9", "10.0.0.7", "198.51.100.5"]
        # The per-address limit follows the real client behind the balancer, not the balancer.
        for _ in range(3):
            attempt(balancer, "olga", "wrong password!", headers={"X-Forwarded-For": "203.0.113.9"})
        assert attempt(balancer, "olga", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 429
        assert attempt(balancer, "olga", headers={"X-Forwarded-For": "203.0.113.50"}).status_code == 200


def test_the_server_does_not_let_uvicorn_believe_forwarded_for_from_local_callers(migrated_url, registry, engine):
    """uvicorn by default believes X-Forwarded-For from 127.0.0.1; `respons serve` must not."""
    import socket

    add_user(engine, "olga", [(Role.OPERATOR, None)])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(Settings(database_url=migrated_url, journal_window_ms=1), run_timers=False)
    real = uvicorn.Server(server.config(app, host="127.0.0.1", port=port))
    thread = threading.Thread(target=real.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not real.started and time.monotonic() < deadline:
            time.sleep(0.05)
        answer = httpx.post(f"http://127.0.0.1:{port}/api/v1/auth/login",
                            json={"username": "olga", "password": "wrong password!"},
                            headers={"X-Forwarded-For": "192.0.2.77"}, timeout=10)
        assert answer.status_code == 401
    finally:
        real.should_exit = True
        thread.join(timeout=10)
    assert failure_addresses(engine) == ["127.0.0.1"]


# --- no oracle before the code -----------------------------------------------------------------


def test_an_administrators_password_cannot_be_probed_without_the_code(clients, engine, clock):
    admin = add_user(engine, "hanne", [(Role.HOST_ADMIN, None)])
    right, wrong = attempt(clients("10.1.0.1"), "hanne"), attempt(clients("10.1.0.2"), "hanne", "wrong password!")
    assert (right.status_code, right.json()) == (wrong.status_code, wrong.json()) == (401, right.json())
    assert right.json()["error"] == "bad_credentials"
    # Right password with a wrong code: the same answer too.
    wrong_code = attempt(clients("10.1.0.3"), "hanne", code="000000")
    assert (wrong_code.status_code, wrong_code.json()) == (right.status_code, right.json())
    # And both count as failures alike, so the backoff does not tell them apart either.
    with_password, without = clients("10.1.0.4"), clients("10.1.0.5")
    for _ in range(4):
        attempt(with_password, "hanne")
        attempt(without, "hanne", "wrong password!")
    a, b = attempt(with_password, "hanne"), attempt(without, "hanne", "wrong password!")
    assert (a.status_code, a.json(), a.headers["Retry-After"]) == (b.status_code, b.json(), b.headers["Retry-After"])
    # Password and code together open the session.
    assert attempt(clients("10.1.0.6"), "hanne", code=totp.code_at(admin.totp_secret, clock())).status_code == 200


def test_the_log_in_form_answers_alike_and_still_asks_for_the_code(clients, engine, clock):
    admin = add_user(engine, "hanne", [(Role.HOST_ADMIN, None)])
    pages = []
    for address, password in (("10.1.0.1", PASSWORD), ("10.1.0.2", "wrong password!")):
        browser = clients(address)
        form = browser.get("/login")
        csrf = browser.cookies.get("respons_login_csrf")
        assert 'id="totp"' in form.text
        answer = browser.post("/login", data={"username": "hanne", "password": password, "login_csrf": csrf},
                              follow_redirects=False)
        pages.append((answer.status_code, answer.text.split('id="login-error">')[1].split("<")[0]))
        assert 'id="totp"' in answer.text, "the form keeps asking for the code"
    assert pages[0] == pages[1]
    assert pages[0][0] == 401 and "engangskode" in pages[0][1]
    browser = clients("10.1.0.3")
    browser.get("/login")
    done = browser.post("/login", data={"username": "hanne", "password": PASSWORD, "login_csrf": browser.cookies.get("respons_login_csrf"),
                                        "totp": totp.code_at(admin.totp_secret, clock())}, follow_redirects=False)
    assert done.status_code == 303


# --- the pure parts ------------------------------------------------------------------------------


def test_the_backoff_doubles_after_the_free_failures_up_to_the_cap():
    waits = [accounts.pair_wait(n, free=3).total_seconds() for n in range(1, 16)]
    assert waits == [0, 0, 0, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]
    assert accounts.pair_wait(10**6, free=3) == accounts.PAIR_MAX_WAIT
    assert accounts.pair_wait(1, free=0).total_seconds() == 2
