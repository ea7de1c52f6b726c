"""Browser tests: real Chromium (Playwright with ``executable_path``) against a real server.

Without a Chromium on this machine the tests skip and say how to get one; with
RESPONS_REQUIRE_BROWSER=1 (set by .ci/run) they fail instead, so CI cannot go green
without having run them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import create_engine, insert

from respons.domain.access import Role
from respons.store.tables import contacts, planned_visits, recipients
from tests.browser.harness import Account, find_chromium, launch
from tests.chaos.server import ServerProcess, free_port
from tests.factories import PASSWORD, Registry, add_user, seed_registry

REQUIRE_BROWSER = os.environ.get("RESPONS_REQUIRE_BROWSER") == "1"


def _unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[test]')"
    path, reason = find_chromium()
    return None if path else reason


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in this
# thread while it is open, and other tests call asyncio.run(). Closing it when the module
# ends means the loop is gone before this process (or xdist worker) runs anything else; each
# browser module is one xdist group, so its tests share this one Chromium (tests/conftest.py).
@pytest.fixture(scope="module")
def playwright_instance():
    problem = _unavailable()
    if problem:
        if REQUIRE_BROWSER:
            pytest.fail(f"browser tests cannot run: {problem} (RESPONS_REQUIRE_BROWSER=1)")
        pytest.skip(f"browser tests skipped: {problem}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright_instance):
    b = launch(playwright_instance)
    yield b
    b.close()


@dataclass
class World:
    url: str
    database_url: str
    registry: Registry
    operators: list[Account]
    admin: Account
    municipality_admin: Account

    def send_alarm(self, *, device: str | None = None, type: str = "fall") -> str:
        """An alarm through the real HTTP intake, as a vendor platform would send it."""
        device = device or self.registry.device_identities[0]
        response = httpx.post(
            self.url + "/api/v1/alarms",
            json={"device": device, "type": type, "occurred_at": datetime.now(timezone.utc).isoformat()},
            headers={"Authorization": f"Bearer {self.registry.token_for_device(device)}"},
            timeout=10,
        )
        assert response.status_code == 202, response.text
        return response.json()["alarm_id"]


@pytest.fixture
def world(tmp_path, request, _templates):
    """A fresh database with two municipalities, two operators and administrators, and a
    real server process on it. ``@pytest.mark.sse_max_seconds(n)`` shortens the live stream;
    ``@pytest.mark.server_settings("fixture")`` adds the settings that fixture returns.
    The database is a copy of the migrated template (tests/databases.py)."""
    marker = request.node.get_closest_marker("sse_max_seconds")
    database_url = _templates.sqlite_copy(tmp_path / "browser.db")
    engine = create_engine(database_url)
    now = datetime.now(timezone.utc)
    registry = seed_registry(engine, now=now)
    first = registry.recipient_ids[0]
    with engine.begin() as conn:
        conn.execute(
            insert(contacts),
            [
                dict(municipality_id=registry.municipality_ids[0], recipient_id=first, name="Kari Nordmann", relation="datter",
                     phone="+4740000001", priority=1, receives_alarms=True),
                dict(municipality_id=registry.municipality_ids[0], recipient_id=first, name="Per Nordmann", relation="sønn",
                     phone="+4740000002", priority=2, receives_alarms=False),
            ],
        )
        conn.execute(
            insert(planned_visits).values(municipality_id=registry.municipality_ids[0], recipient_id=first,
                                          starts_at=now + timedelta(hours=2), service="Hjemmesykepleie: medisiner")
        )
        conn.execute(recipients.update().where(recipients.c.id == first).values(
            key_box="Nøkkelboks ved inngangsdøra, kode 2468", response_notes="Hørselshemmet: ring lenge, bank på vinduet.",
            phone="+4790000001", latitude=58.146, longitude=7.995))
    operators = []
    for name in ("anne", "bjorn"):
        user = add_user(engine, name, [(Role.OPERATOR, None)], now=now)
        operators.append(Account(user.username, PASSWORD))
    host = add_user(engine, "vert", [(Role.HOST_ADMIN, None)], now=now)
    local = add_user(engine, "kommune", [(Role.MUNICIPALITY_ADMIN, registry.municipality_ids[0])], now=now)
    engine.dispose()
    extra = request.node.get_closest_marker("server_settings")
    server = ServerProcess(database_url, free_port(), tmp_path / "server.log", timer_poll_seconds="0.2",
                           sse_max_seconds=str(marker.args[0] if marker else 300),
                           **(request.getfixturevalue(extra.args[0]) if extra else {}))
    server.start()
    try:
        yield World(server.url, database_url, registry, operators, Account(host.username, PASSWORD, host.totp_secret),
                    Account(local.username, PASSWORD, local.totp_secret))
    finally:
        server.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


@pytest.fixture
def new_page(browser, request, tmp_path):
    """Pages in separate browser contexts: separate cookies, like two workstations.
    When a test fails, what each page showed and the server's log are printed."""
    if "world" in request.fixturenames:
        # The server first, so it is stopped after the pages are closed (teardown runs in
        # reverse). Stopped with pages open, it waits for their live streams (SSE) to end,
        # which they do not, until ServerProcess.stop gives up after 10 s and kills it.
        request.getfixturevalue("world")
    contexts, pages = [], []

    def make(**kwargs):
        context = browser.new_context(**{"viewport": {"width": 1920, "height": 1080}, "locale": "nb-NO", **kwargs})
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: print(f"[browser console] {message.type}: {message.text}"))
        pages.append(page)
        return page

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        for n, page in enumerate(pages):
            try:
                print(f"--- page {n}: {page.url}\n" + page.evaluate("document.querySelector('main').innerHTML")[:6000])
            except Exception as exc:  # noqa: BLE001 - diagnostics only
                print(f"--- page {n}: {exc}")
        log = tmp_path / "server.log"
        if log.exists():
            print("--- server log (tail)\n" + "\n".join(log.read_text(errors="replace").splitlines()[-60:]))
    for context in contexts:
        context.close()
