"""Schemathesis against a live ``respons serve`` on a demo-seeded database (issue 15).

An outside tool reads our OpenAPI document and throws what it promises to accept (and much it
does not) at a real server, as an operator, a host administrator, an intake token, an
anonymous caller and a session that logs out. It must find no server error (5xx) and every
answer must be one the document describes: its status code, content type and schema.

Fixed seed, bounded examples per operation: the run takes a few minutes and finds the same
things each time. A failure prints schemathesis' report with a curl command per finding.

Which operations each caller is given, and why:
- intake token: the intake (the only thing a token opens);
- operator: the queue, alarms, the live stream, deviations and ``auth/me``;
- host administrator: everything else behind a log-in (administration, registry, audit,
  statistics, deviations, ``auth/me``);
- anonymous: the public routes (log-in, health, and the HTTP SMS provider's callbacks, which
  answer 404 on an installation without a callback token, as this one);
- a session of its own: ``auth/logout``, because logging out ends the session every later
  case would use.
Nothing else is left out. The live stream (``/api/v1/queue/events``) is kept in, bounded by
running the server with ``RESPONS_SSE_MAX_SECONDS=0.05``: each stream ends after 0.05 s.
The order matters: the administrator runs last, since it may revoke the intake token (token
ids are small integers, which the generator tries) and change the operator's roles.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timezone

import httpx
import pytest
from sqlalchemy import select

from respons.auth import accounts, totp
from respons.demo.seed import seed_demo
from respons.demo.users import DEMO_USERS
from respons.store.tables import municipalities
from tests.chaos.server import ServerProcess, free_port

pytestmark = pytest.mark.slow

SEED = 20261123
MAX_EXAMPLES = 60
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"

OPERATOR = {"--include-tag": ["operator", "deviations"], "--include-path": ["/api/v1/auth/me"]}
HOST_ADMIN = {"--include-tag": ["admin", "registry", "audit", "statistics", "deviations"],
              "--include-path": ["/api/v1/auth/me"]}
INTAKE = {"--include-tag": ["intake"]}
PUBLIC = {"--include-tag": ["health", "messages"], "--include-path": ["/api/v1/auth/login"]}
LOGOUT = {"--include-path": ["/api/v1/auth/logout"]}


def demo_user(name: str):
    return next(u for u in DEMO_USERS if u.username == name)


def log_in(base: str, name: str) -> dict[str, str]:
    user = demo_user(name)
    body = {"username": user.username, "password": user.password}
    if user.totp_secret:
        body["totp"] = totp.code_at(user.totp_secret, datetime.now(timezone.utc))
    response = httpx.post(base + "/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.text
    return {"Cookie": f"respons_session={response.cookies['respons_session']}",
            "X-CSRF-Token": response.json()["csrf_token"]}


def schemathesis(base: str, selection: dict[str, list[str]], headers: dict[str, str], report) -> tuple[int, str, float]:
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{base}/openapi.json",
        "--checks", CHECKS, "--seed", str(SEED), "--max-examples", str(MAX_EXAMPLES), "--workers", "1",
        "--generation-database", "none", "--request-timeout", "10", "--no-color",
        # The demo data has few rows: most generated ids are 404, which is a right answer here.
        "--warnings", "off",
    ]
    for option, values in selection.items():
        for value in values:
            command += [option, value]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - started
    report.write_text(done.stdout + done.stderr)
    return done.returncode, done.stdout + done.stderr, elapsed


@pytest.fixture
def server(migrated_url, engine, tmp_path):
    now = datetime.now(timezone.utc)
    seed_demo(engine, now=now, recipients=40, history_days=3)
    with engine.begin() as conn:
        municipality_id = conn.execute(select(municipalities.c.id).order_by(municipalities.c.id)).scalar()
        token = accounts.create_token(conn, name="schemathesis", municipality_id=municipality_id, purpose="intake",
                                      actor="test", created_by=None, now=now)[1]
    process = ServerProcess(migrated_url, free_port(), tmp_path / "server.log", sse_max_seconds=0.05)
    process.start()
    try:
        yield process, token
    finally:
        process.stop()


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(server, tmp_path):
    process, token = server
    base = process.url
    runs = [
        ("anonymous", PUBLIC, {}),
        ("intake token", INTAKE, {"Authorization": f"Bearer {token}"}),
        ("operator", OPERATOR, log_in(base, "operator")),
        ("own session, logging out", LOGOUT, log_in(base, "revisor")),
        ("host administrator", HOST_ADMIN, log_in(base, "vertsadmin")),
    ]
    uncovered = [f"{method.upper()} {path}" for path, operations in httpx.get(base + "/openapi.json").json()["paths"].items()
                 for method, operation in operations.items()
                 if not any(set(operation.get("tags", [])) & set(selection.get("--include-tag", []))
                            or path in selection.get("--include-path", []) for _, selection, _ in runs)]
    assert uncovered == [], "operations no caller probes; give them to one (and say why in the module docs)"
    failures, timings = [], []
    for name, selection, headers in runs:
        code, output, elapsed = schemathesis(base, selection, headers, tmp_path / f"schemathesis-{name.split()[0]}.txt")
        timings.append(f"{name}: {elapsed:.0f} s")
        if code != 0:
            failures.append(f"===== as {name} (exit {code}) =====\n{output[-20000:]}")
    print("schemathesis runs:", ", ".join(timings))
    assert not failures, "\n".join(failures) + f"\nserver log: {tmp_path / 'server.log'}"
