"""The commands an operator types during installation: one clear line when the database is
out of reach (not a page of traceback), and the version."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from respons import __version__
from respons.cli import app
from respons.settings import get_settings
from respons.store.migrate import head_revision
from tests.factories import seed_registry


def respons(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "respons.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def assert_one_line_refusal(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.postgres
def test_migrate_against_a_database_that_does_not_exist_says_how_to_create_it(postgres_url):
    missing = make_url(postgres_url).set(database="respons_nowhere_42").render_as_string(hide_password=False)
    line = assert_one_line_refusal(respons("migrate", RESPONS_DATABASE_URL=missing))
    assert 'Database "respons_nowhere_42" does not exist' in line
    assert "createdb" in line and "docs/operations.md" in line


@pytest.mark.postgres
def test_migrate_as_a_role_that_does_not_exist_says_so(postgres_url):
    stranger = make_url(postgres_url).set(username="respons_nobody_42", password=None).render_as_string(
        hide_password=False)
    line = assert_one_line_refusal(respons("migrate", RESPONS_DATABASE_URL=stranger))
    assert 'Role "respons_nobody_42" does not exist' in line and "createuser" in line


def test_migrate_against_a_server_that_is_not_there_says_so(tmp_path):
    # Port 9 (discard) on the loopback: nothing listens there, so the connection is refused.
    line = assert_one_line_refusal(respons("migrate", RESPONS_DATABASE_URL="postgresql+psycopg://respons@127.0.0.1:9/respons"))
    assert line == "No PostgreSQL answers at 127.0.0.1:9 (is the server running, and listening there?)."


def test_migrate_where_the_sqlite_folder_cannot_be_made_says_which_folder(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    line = assert_one_line_refusal(respons("migrate", RESPONS_DATABASE_URL=f"sqlite:///{blocker}/respons.db"))
    assert str(blocker / "respons.db") in line


def test_migrate_on_a_fresh_sqlite_file_works_and_names_the_revision(tmp_path):
    done = respons("migrate", RESPONS_DATABASE_URL=f"sqlite:///{tmp_path / 'var' / 'respons.db'}")
    assert done.returncode == 0, done.stderr
    assert f"schema revision {head_revision()}" in done.stdout


def test_the_version_is_printed():
    done = respons("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"respons {__version__}"


@pytest.fixture
def in_a_working_directory(cli_database, monkeypatch, tmp_path):
    """The command started from some folder, as an operator's shell or a service would."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("RESPONS_OUTPUT_DIR", raising=False)
    get_settings.cache_clear()
    return cwd


def files_under(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_report_files_go_to_the_output_folder_not_the_working_directory(in_a_working_directory, engine, tmp_path,
                                                                         monkeypatch):
    seed_registry(engine)
    runner = CliRunner()
    by_default = runner.invoke(app, ["report", "file", "--municipality", "9000", "--date", "2026-11-15",
                                     "--format", "xlsx"])
    assert by_default.exit_code == 0, by_default.output
    # Beside the default database (var/respons.db), not loose in the working directory.
    assert files_under(in_a_working_directory) == ["var/reports/respons-9000-month-2026-11-01.xlsx"]

    chosen = tmp_path / "reports"
    monkeypatch.setenv("RESPONS_OUTPUT_DIR", str(chosen))
    get_settings.cache_clear()
    yearly = runner.invoke(app, ["report", "collaboration", "--year", "2026", "--format", "xlsx"])
    assert yearly.exit_code == 0, yearly.output
    assert files_under(chosen) == ["respons-2026.xlsx"], "the folder is made when missing"
    assert str(chosen / "respons-2026.xlsx") in yearly.output.replace("\n", "")

    named = tmp_path / "exactly-here.xlsx"
    assert runner.invoke(app, ["report", "file", "--municipality", "9000", "--date", "2026-11-15", "--format", "xlsx",
                               "--out", str(named)]).exit_code == 0
    assert named.is_file(), "--out still names the file itself"
    assert files_under(in_a_working_directory) == ["var/reports/respons-9000-month-2026-11-01.xlsx"]


def test_an_invoice_export_goes_to_the_output_folder(in_a_working_directory, engine, economy_world, tmp_path,
                                                     monkeypatch):
    chosen = tmp_path / "invoices"
    monkeypatch.setenv("RESPONS_OUTPUT_DIR", str(chosen))
    get_settings.cache_clear()
    runner = CliRunner()
    computed = runner.invoke(app, ["invoice", "run", "--from", "2026-01"])
    run_id = re.search(r"Draft run (\d+)", computed.output).group(1)
    exported = runner.invoke(app, ["invoice", "export", run_id, "--format", "csv"])
    assert exported.exit_code == 0, exported.output
    assert files_under(chosen) == [f"respons-invoice-{run_id}.csv"]
    assert files_under(in_a_working_directory) == []
