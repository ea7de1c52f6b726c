"""`respons serve` logs: one access line per request with the route template and the request
id, and with RESPONS_LOG_FORMAT=json every line of the process's output is a JSON object."""

from __future__ import annotations

import json

import httpx
import pytest

from respons.store.migrate import upgrade
from tests.chaos.server import ServerProcess, free_port

pytestmark = pytest.mark.slow


def test_json_log_lines_with_request_ids_and_route_templates(tmp_path):
    url = f"sqlite:///{tmp_path / 'respons.db'}"
    upgrade(url)
    log_path = tmp_path / "server.log"
    server = ServerProcess(url, free_port(), log_path, log_format="json")
    server.start()
    try:
        answer = httpx.get(server.url + "/api/v1/alarms/4f1c-secret-id", headers={"X-Request-ID": "probe-7"})
        assert answer.headers["X-Request-ID"] == "probe-7"
        assert httpx.get(server.url + "/readyz").status_code == 200
        scraped = httpx.get(server.url + "/metrics").text
        assert "respons_http_requests_total" in scraped and "process_cpu_seconds_total" in scraped
    finally:
        server.stop()
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # raises on any line that is not JSON
    access = [e for e in entries if e["logger"] == "respons.access"]
    mine = [e for e in access if e.get("request_id") == "probe-7"]
    assert len(mine) == 1, access
    assert (mine[0]["method"], mine[0]["route"], mine[0]["status"]) == ("GET", "/api/v1/alarms/{alarm_id}", 401)
    assert "4f1c-secret-id" not in log_path.read_text(), "the raw path is not logged"
    assert any(e["message"].startswith("ready") for e in entries)
