"""The traffic simulator: sends ``traffic.schedule`` to a running server over HTTP.

This is the I/O edge of the demo: it reads the devices from the database, reads the
clock, sleeps, and posts to ``POST /api/v1/alarms`` the way a vendor platform must:
a retry after a connection error or a 5xx resends the identical request with the same
idempotency key, so the server can recognise it and never store the alarm twice.

Time: the simulated clock starts at the real current time and runs ``speed`` times
faster. The schedule (and so the daily profile) is laid out in simulated time, but each
alarm is sent with ``occurred_at`` set to the real time it is due, because a device never
reports an event from the future; the simulated time travels in the payload
(``simulated_at``) for anyone who wants to see the profile.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx
from rich.console import Console
from sqlalchemy import func, select

from respons.auth import accounts
from respons.demo import traffic
from respons.store.db import make_engine
from respons.store.tables import devices

log = logging.getLogger(__name__)

ALARMS_PATH = "/api/v1/alarms"
HEALTH_PATH = "/healthz"
HEALTH_WAIT_SECONDS = 30.0
RETRY_FIRST_DELAY = 0.5
RETRY_MAX_DELAY = 10.0
REQUEST_TIMEOUT = 10.0
# Without --duration the simulator runs until stopped; the schedule just needs an end.
OPEN_ENDED = timedelta(days=3650)
RETRYABLE_STATUS = {408, 429}


@dataclass(frozen=True)
class Fleet:
    devices: list[tuple[str, str]]  # (identity, kind) of devices worn by someone
    recipients: int
    municipality_of: dict[str, int]  # device identity -> municipality id


def load_fleet(database_url: str) -> Fleet:
    """Devices that belong to a recipient: spares on the shelf raise no alarms."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            in_use = (devices.c.recipient_id.is_not(None)) & (devices.c.active.is_(True))
            rows = conn.execute(
                select(devices.c.identity, devices.c.kind, devices.c.municipality_id).where(in_use).order_by(devices.c.id)
            ).all()
            recipients = conn.execute(select(func.count(func.distinct(devices.c.recipient_id))).where(in_use)).scalar_one()
    finally:
        engine.dispose()
    return Fleet(
        devices=[(r.identity, r.kind) for r in rows],
        recipients=recipients,
        municipality_of={r.identity: r.municipality_id for r in rows},
    )


def issue_tokens(database_url: str, municipality_ids: set[int], run_id: str) -> dict[int, tuple[int, str]]:
    """One intake token per municipality, as each municipality's vendor would hold.

    The simulator has database access (it is an administrator's tool), so it issues its
    own tokens for the run, audited like any other, and revokes them when it stops.
    """
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            now = datetime.now(timezone.utc)
            return {
                mid: accounts.create_token(
                    conn, name=f"Simulator {run_id}", municipality_id=mid, purpose="intake", actor="system:simulator",
                    created_by=None, now=now,
                )
                for mid in sorted(municipality_ids)
            }
    finally:
        engine.dispose()


def revoke_tokens(database_url: str, tokens: dict[int, tuple[int, str]]) -> None:
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            for token_id, _ in tokens.values():
                accounts.revoke_token(conn, token_id, actor="system:simulator", now=datetime.now(timezone.utc))
    finally:
        engine.dispose()


def run_simulator(
    url: str,
    *,
    speed: float,
    duration: float | None,
    seed: int,
    database_url: str,
    console: Console | None = None,
    stop_event: threading.Event | None = None,
) -> dict:
    """Send simulated alarms until ``duration`` real seconds pass, ``stop_event`` is set, or Ctrl-C."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    counts = {"sent": 0, "accepted": 0, "rejected": 0}
    fleet = load_fleet(database_url)
    if not fleet.devices:
        _say(console, "[yellow]No devices with a recipient in the database: nothing to simulate. "
                      "Run `respons demo` first to create the demo centre.[/yellow]", logging.WARNING)
        return counts
    stop = stop_event or threading.Event()
    sim_start = datetime.now(timezone.utc)
    real_start = time.monotonic()
    deadline = None if duration is None else real_start + duration
    sim_span = OPEN_ENDED if duration is None else timedelta(seconds=duration * speed)
    alarms = traffic.schedule(
        random.Random(seed), start=sim_start, end=sim_start + sim_span, devices=fleet.devices, n_recipients=fleet.recipients
    )
    # Part of every key, so that a second run with the same seed never reuses a key
    # for a different alarm (the server would answer 409 and quarantine it).
    run_id = sim_start.strftime("%Y%m%dT%H%M%S%fZ")
    tokens = issue_tokens(database_url, set(fleet.municipality_of.values()), run_id)
    per_day = traffic.alarms_per_recipient_day * fleet.recipients
    _say(console, f"Simulating about {per_day:.0f} alarms a day from {fleet.recipients} recipients "
                  f"({len(fleet.devices)} devices) at {speed:g}× real time → {url}"
                  + ("" if duration is None else f" for {duration:g} s") + ". Ctrl-C stops.")
    try:
        with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT) as client:
            for n, alarm in enumerate(alarms, start=1):
                real_offset = (alarm.at - sim_start).total_seconds() / speed
                if not _wait_until(real_start + real_offset, stop, deadline):
                    break
                body = {
                    "device": alarm.device,
                    "type": alarm.type,
                    "occurred_at": _iso(sim_start + timedelta(seconds=real_offset)),
                    "idempotency_key": f"sim-{seed}-{run_id}-{n}",
                    "payload": {"simulated_at": _iso(alarm.at)},
                }
                counts["sent"] += 1
                token = tokens[fleet.municipality_of[alarm.device]][1]
                response = _deliver(client, body, {"Authorization": f"Bearer {token}"}, stop, deadline)
                if response is None:
                    break
                accepted = response.status_code == 202
                counts["accepted" if accepted else "rejected"] += 1
                _report(console, n, alarm, response, accepted)
    except KeyboardInterrupt:
        pass
    finally:
        revoke_tokens(database_url, tokens)
    _say(console, f"Simulator stopped: {counts['sent']} sent, {counts['accepted']} accepted, "
                  f"{counts['rejected']} rejected.")
    return counts


def start_background_simulator(
    url: str, *, speed: float, database_url: str, seed: int = 1, stop_event: threading.Event | None = None
) -> threading.Thread:
    """Run the simulator in a daemon thread once the server at ``url`` answers its health check.

    It is started just before the server in the same process, so it waits for the server
    instead of failing its first requests.
    """

    def run() -> None:
        try:
            if not wait_until_healthy(url, timeout=HEALTH_WAIT_SECONDS, stop_event=stop_event):
                log.error("Simulator not started: %s%s did not answer 200 within %.0f s.", url, HEALTH_PATH, HEALTH_WAIT_SECONDS)
                return
            run_simulator(url, speed=speed, duration=None, seed=seed, database_url=database_url, stop_event=stop_event)
        except Exception:
            log.exception("The simulator stopped with an error.")

    thread = threading.Thread(target=run, name="respons-simulator", daemon=True)
    thread.start()
    return thread


def wait_until_healthy(url: str, *, timeout: float, stop_event: threading.Event | None = None) -> bool:
    stop = stop_event or threading.Event()
    give_up = time.monotonic() + timeout
    with httpx.Client(base_url=url, timeout=2.0) as client:
        while time.monotonic() < give_up and not stop.is_set():
            try:
                if client.get(HEALTH_PATH).status_code == 200:
                    return True
            except httpx.TransportError:
                pass  # not listening yet
            stop.wait(0.2)
    return False


def _wait_until(target: float, stop: threading.Event, deadline: float | None) -> bool:
    """Sleep until the monotonic time ``target``; False when stopped or past the deadline first."""
    if deadline is not None and target >= deadline:
        return False
    remaining = target - time.monotonic()
    if remaining > 0 and stop.wait(remaining):
        return False
    return not stop.is_set()


def _deliver(
    client: httpx.Client, body: dict, headers: dict[str, str], stop: threading.Event, deadline: float | None
) -> httpx.Response | None:
    """POST until the server gives a final answer; None if stopped while retrying.

    Only a final answer (2xx or a 4xx other than timeout/rate limit) ends the loop:
    a connection error or 5xx means nothing may have been stored, so the same request
    goes again, with the same key, after an exponential backoff.
    """
    delay = RETRY_FIRST_DELAY
    while True:
        try:
            response = client.post(ALARMS_PATH, json=body, headers=headers)
            if response.status_code < 500 and response.status_code not in RETRYABLE_STATUS:
                return response
            problem = f"HTTP {response.status_code}"
        except httpx.TransportError as exc:
            problem = f"{exc.__class__.__name__}: {exc}"
        log.warning("Alarm %s not delivered (%s); retrying in %.1f s with the same key.", body["idempotency_key"], problem, delay)
        if deadline is not None and time.monotonic() + delay >= deadline:
            return None
        if stop.wait(delay):
            return None
        delay = min(delay * 2, RETRY_MAX_DELAY)


def _report(console: Console | None, n: int, alarm: traffic.SimulatedAlarm, response: httpx.Response, accepted: bool) -> None:
    local = alarm.at.astimezone(traffic.OSLO).strftime("%a %H:%M:%S")
    if accepted:
        outcome = "duplicate" if response.json().get("duplicate") else "accepted"
        line = f"{n:>6}  sim {local}  {alarm.type:<21} {alarm.device:<12} [green]{response.status_code} {outcome}[/green]"
        log.debug("Simulated alarm %d %s from %s: %s", n, alarm.type, alarm.device, outcome)
    else:
        message = _error_message(response)
        line = f"{n:>6}  sim {local}  {alarm.type:<21} {alarm.device:<12} [red]{response.status_code} {message}[/red]"
        log.warning("Simulated alarm %d %s from %s rejected: %s %s", n, alarm.type, alarm.device, response.status_code, message)
    if console is not None:
        console.print(line, highlight=False)


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("message") or body.get("detail") or body)[:200] if isinstance(body, dict) else str(body)[:200]


def _say(console: Console | None, message: str, level: int = logging.INFO) -> None:
    if console is not None:
        console.print(message)
    else:
        log.log(level, Console().render_str(message).plain)


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
