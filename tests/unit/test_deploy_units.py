"""The systemd units in deploy/systemd are what docs/operations.md installs: they must parse,
name commands that exist, and set only settings Respons reads."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from respons.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
INSTALLED_COMMAND = "/opt/respons/venv/bin/respons"
UNITS = ("respons.service", "respons-backup.service", "respons-backup.timer")


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """systemd's unit syntax: [Section], Key=Value lines, # and ; comments, keys may repeat."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            assert line.endswith("]"), f"{path.name}:{number}: {raw!r}"
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"{path.name}:{number}: a setting before any section"
        assert "=" in line, f"{path.name}:{number}: not Key=Value: {raw!r}"
        key, value = line.split("=", 1)
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key.strip()), f"{path.name}:{number}: bad key {key!r}"
        current.append((key.strip(), value.strip()))
    return sections


def values(sections, section: str, key: str) -> list[str]:
    return [v for k, v in sections.get(section, []) if k == key]


@pytest.mark.parametrize("name", UNITS)
def test_every_unit_has_its_sections(name):
    sections = parse_unit(DEPLOY / name)
    assert values(sections, "Unit", "Description")
    if name.endswith(".service"):
        assert values(sections, "Service", "User") == ["respons"]
        assert values(sections, "Service", "EnvironmentFile") == ["/etc/respons/respons.env"]
        [start] = values(sections, "Service", "ExecStart")
        assert start.startswith(INSTALLED_COMMAND + " ")
    else:
        assert values(sections, "Timer", "OnCalendar") and values(sections, "Install", "WantedBy") == ["timers.target"]


def test_the_server_unit_runs_serve_restarts_and_gives_the_shutdown_time_it_needs():
    sections = parse_unit(DEPLOY / "respons.service")
    assert values(sections, "Service", "ExecStart") == [f"{INSTALLED_COMMAND} serve"]
    assert values(sections, "Service", "Restart") == ["always"]
    # web/server.py gives requests in flight 5 s after SIGTERM; systemd must not kill sooner.
    assert int(values(sections, "Service", "TimeoutStopSec")[0]) > 5
    assert values(sections, "Service", "StateDirectory") == ["respons"]
    assert values(sections, "Install", "WantedBy") == ["multi-user.target"]


def test_the_backup_unit_writes_where_its_sandbox_lets_it():
    sections = parse_unit(DEPLOY / "respons-backup.service")
    [start] = values(sections, "Service", "ExecStart")
    target = start.split()[-1]
    assert start.split()[1] == "backup"
    # ProtectSystem=strict makes everything read-only except what is named.
    assert values(sections, "Service", "ProtectSystem") == ["strict"]
    assert target in values(sections, "Service", "ReadWritePaths")


def test_the_environment_file_sets_only_settings_respons_reads():
    """Settings ignore unknown variables, so a misspelt name in the file would be lost silently."""
    known = {f"RESPONS_{name.upper()}" for name in Settings.model_fields}
    lines = (DEPLOY / "respons.env").read_text(encoding="utf-8").splitlines()
    named = [m.group(1) for line in lines if (m := re.match(r"#?\s*(RESPONS_[A-Z0-9_]+)=", line))]
    assert "RESPONS_DATABASE_URL" in named
    assert sorted(set(named) - known) == []


def test_the_operations_guide_installs_these_files():
    guide = OPERATIONS.read_text(encoding="utf-8")
    for name in (*UNITS, "respons.env"):
        assert f"deploy/systemd/{name}" in guide, name


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_units_without_a_warning(tmp_path):
    # verify also checks that ExecStart names an executable: point it at this installation.
    here = Path(sys.prefix) / "bin" / "respons"
    assert here.exists()
    for name in UNITS:
        text = (DEPLOY / name).read_text(encoding="utf-8").replace(INSTALLED_COMMAND, str(here))
        (tmp_path / name).write_text(text, encoding="utf-8")
    checked = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / n) for n in UNITS)],
                             capture_output=True, text=True, timeout=60)
    # verify exits 0 on unknown keys and bad values and only warns: any output is a failure.
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", checked.stdout + checked.stderr


def test_the_respons_command_runs_with_the_services_settings_and_folder(tmp_path):
    """deploy/respons-command.sh, pointed at this machine: the settings file's database and
    output folder are used, and files land in the state folder, not where it was called from."""
    import getpass

    state, elsewhere = tmp_path / "state", tmp_path / "elsewhere"
    state.mkdir()
    elsewhere.mkdir()
    env_file = tmp_path / "respons.env"
    env_file.write_text(f"# as in deploy/systemd/respons.env\nRESPONS_DATABASE_URL=sqlite:///{state}/respons.db\n"
                        "RESPONS_OUTPUT_DIR=reports\n", encoding="utf-8")
    script = (DEPLOY.parent / "respons-command.sh").read_text(encoding="utf-8")
    for name, value in (("RESPONS_USER", getpass.getuser()), ("RESPONS_ENV_FILE", env_file),
                        ("RESPONS_STATE", state), ("RESPONS_BIN", Path(sys.prefix) / "bin" / "respons")):
        script, replaced = re.subn(rf"^{name}=.*$", f"{name}={value}", script, flags=re.M)
        assert replaced == 1, name
    command = tmp_path / "respons"
    command.write_text(script, encoding="utf-8")
    command.chmod(0o755)
    # The caller's own settings must not leak in: the file decides.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESPONS_")}

    migrated = subprocess.run([str(command), "migrate"], cwd=elsewhere, env=env, capture_output=True, text=True,
                              timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    assert (state / "respons.db").is_file() and list(elsewhere.iterdir()) == []
    backed_up = subprocess.run([str(command), "backup", "before-upgrade.db"], cwd=elsewhere, env=env,
                               capture_output=True, text=True, timeout=120)
    assert backed_up.returncode == 0, backed_up.stderr
    assert (state / "before-upgrade.db").is_file(), "a relative path is taken in the state folder"
