"""Set-up shared by the command-line tests: the commands run in-process against the test's
own database."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from respons.settings import get_settings
from tests.integration.test_invoicing import economy_world  # noqa: F401  (fixture)  # economy_world moves to tests/integration/conftest.py


@pytest.fixture
def cli_database(migrated_url, monkeypatch):
    """RESPONS_DATABASE_URL set to the test's database. Settings are cached per process, so the
    cache is cleared on the way in (to read it) and on the way out (to forget it)."""
    monkeypatch.setenv("RESPONS_DATABASE_URL", migrated_url)
    get_settings.cache_clear()
    yield migrated_url
    get_settings.cache_clear()


@pytest.fixture
def cli(cli_database):
    return CliRunner()
