"""The console across a server restart: SIGTERM ends the process quickly, the console says
at once that it is not connected, and after the restart a new alarm appears with its sound."""

from __future__ import annotations

import signal
import time

from playwright.sync_api import expect

from tests.browser.harness import log_in
from tests.chaos.server import ServerProcess, free_port

LIVE = 10_000


def test_after_sigterm_the_console_shows_not_connected_and_after_a_restart_a_new_alarm_rings(new_page, world, tmp_path):
    # A server of its own (same database), so the test can stop and start it.
    port = free_port()
    server = ServerProcess(world.database_url, port, tmp_path / "restart.log", timer_poll_seconds="0.2")
    server.start()
    try:
        page = new_page()
        log_in(page, server.url, world.operators[0])
        expect(page.locator("#live-status")).to_have_attribute("data-live", "up", timeout=LIVE)

        server.process.send_signal(signal.SIGTERM)  # with the console's stream open
        started = time.monotonic()
        server.process.wait(10)
        assert time.monotonic() - started < 10, "the process exits within 10 s"
        expect(page.locator("#live-banner")).to_be_visible(timeout=LIVE)
        expect(page.locator("#live-banner")).to_have_text("Ikke tilkoblet – skjermen er ikke oppdatert")
        assert "offline" in page.evaluate("window.respons.played.map(p => p.kind)")

        server = ServerProcess(world.database_url, port, tmp_path / "restart.log", timer_poll_seconds="0.2")
        server.start()
        expect(page.locator("#live-status")).to_have_attribute("data-live", "up", timeout=LIVE)
        response_alarm = _send(world, server.url)
        expect(page.locator(f"#row-{response_alarm}")).to_be_visible(timeout=LIVE)
        # Played through a running audio output, not merely scheduled.
        sounds = page.evaluate("window.respons.played.filter(p => p.id).map(p => [p.id, p.kind, p.audio])")
        assert [response_alarm, "critical", "running"] in sounds
    finally:
        server.stop()


def _send(world, url: str) -> str:
    from datetime import datetime, timezone

    import httpx

    device = world.registry.device_identities[0]
    response = httpx.post(url + "/api/v1/alarms",
                          json={"device": device, "type": "fall", "occurred_at": datetime.now(timezone.utc).isoformat()},
                          headers={"Authorization": f"Bearer {world.registry.token_for_device(device)}"}, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()["alarm_id"]
