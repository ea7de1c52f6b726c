"""The `respons user` and `respons token` commands against a real database."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from respons.auth import audit
from respons.cli import app
from respons.settings import get_settings
from respons.store.tables import api_tokens, role_grants, users
from tests.factories import seed_registry


@pytest.fixture
def cli(migrated_url, monkeypatch):
    monkeypatch.setenv("RESPONS_DATABASE_URL", migrated_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


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
