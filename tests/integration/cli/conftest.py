"""Set-up shared by the command-line tests: the commands run in-process against the test's
own database."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from respons.settings import get_settings


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
