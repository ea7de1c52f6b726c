"""The `respons user` and `respons token` commands against a real database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from respons.auth import audit
from respons.cli import app
from respons.domain.access import Role
from respons.store.tables import api_tokens, role_grants, users
from tests.factories import PASSWORD, seed_registry


def test_create_operator_and_admin_users(cli, engine):
    registry = seed_registry(engine, municipalities_count=1)
    operator = cli.invoke(app, ["user", "create", "olga", "--name", "Olga O", "--role", "operator", "--password", "a long password!"])
    assert operator.exit_code == 0, operator.output
    admin = cli.invoke(
        app, ["user", "create", "kari", "--name", "Kari K", "--role", "municipality_admin", "--municipality", "9000",
              "--password", "another long password"],
    )
    assert admin.exit_code == 0, admin.output
    assert "otpauth://totp/" in admin.output, "administrators are enrolled in two-factor log-in at once"
    with engine.connect() as conn:
        rows = conn.execute(select(users.c.username, users.c.totp_secret, role_grants.c.role, role_grants.c.municipality_id)
                            .join(role_grants, role_grants.c.user_id == users.c.id).order_by(users.c.username)).all()
        assert audit.verify(conn).ok
    assert [(r.username, r.totp_secret is not None, r.role, r.municipality_id) for r in rows] == [
        ("kari", True, "municipality_admin", registry.municipality_ids[0]),
        ("olga", False, "operator", None),
    ]


def test_refuses_a_short_password_and_an_unknown_role(cli, engine):
    seed_registry(engine, municipalities_count=1)
    short = cli.invoke(app, ["user", "create", "x", "--name", "X", "--role", "operator", "--password", "short"])
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    unknown = cli.invoke(app, ["user", "create", "y", "--name", "Y", "--role", "king", "--password", "a long password!"])
    assert unknown.exit_code != 0 and "unknown role" in unknown.output


def test_token_is_shown_once_and_stored_hashed(cli, engine):
    seed_registry(engine, municipalities_count=1)
    result = cli.invoke(app, ["token", "create", "--municipality", "9000", "--name", "Leverandør X"])
    assert result.exit_code == 0, result.output
    token = next(line for line in result.output.splitlines() if line.startswith("rsp_"))
    with engine.connect() as conn:
        hashes = conn.execute(select(api_tokens.c.token_hash)).scalars().all()
    assert token not in hashes and all(len(h) == 64 for h in hashes)


def test_user_unlock_ends_the_log_in_backoff_and_is_audited(cli, engine):
    from respons.auth import accounts
    from respons.store.tables import login_failures
    from tests.factories import T0, add_user

    seed_registry(engine, municipalities_count=1)
    add_user(engine, "olga", [(Role.OPERATOR, None)])
    with engine.begin() as conn:
        for _ in range(4):  # three free failures, then the next attempt from there waits
            accounts.log_in(conn, username="olga", password="wrong password!", totp_code=None, remote_addr="10.0.0.9",
                            user_agent=None, now=T0, session_ttl=timedelta(hours=8))
        for _ in range(2):
            accounts.log_in(conn, username="olga", password="wrong password!", totp_code=None, remote_addr="10.0.0.8",
                            user_agent=None, now=T0, session_ttl=timedelta(hours=8))
        held = accounts.log_in(conn, username="olga", password=PASSWORD, totp_code=None, remote_addr="10.0.0.9",
                               user_agent=None, now=T0, session_ttl=timedelta(hours=8))
    assert isinstance(held, accounts.LoginRefused) and held.reason == "throttled"

    only_one_address = cli.invoke(app, ["user", "unlock", "olga", "--address", "10.0.0.8"])
    assert only_one_address.exit_code == 0 and "2 failed" in only_one_address.output
    everywhere = cli.invoke(app, ["user", "unlock", "Olga"])
    assert everywhere.exit_code == 0 and "4 failed" in everywhere.output, everywhere.output
    unknown = cli.invoke(app, ["user", "unlock", "nobody"])
    assert unknown.exit_code == 1 and "No user named" in unknown.output
    with engine.begin() as conn:
        assert conn.execute(select(login_failures)).all() == []
        opened = accounts.log_in(conn, username="olga", password=PASSWORD, totp_code=None, remote_addr="10.0.0.9",
                                 user_agent=None, now=T0, session_ttl=timedelta(hours=8))
        unlocks = audit.search(conn, action=audit.LOGIN_UNLOCK)
        assert audit.verify(conn).ok
    assert isinstance(opened, accounts.LoggedIn)
    assert [(r["actor"], r["details"]["failures_cleared"], r["details"].get("remote_addr")) for r in unlocks] == [
        ("system:cli", 4, None), ("system:cli", 2, "10.0.0.8"),
    ]
