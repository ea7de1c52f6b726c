"""Health: is the process alive, can it commit, and a 503 for every request the database cannot serve.

* ``GET /livez`` — the process runs and its journal writer thread is alive. No database: a
  node whose database is down is not helped by a restart, and a supervisor that restarts it
  for that would only add churn. 503 means "restart me".
* ``GET /readyz`` — the node can *commit*: the journal's last outcome plus a probe that
  writes one row (``node_heartbeats``, an UPSERT per node) through the journal every
  ``RESPONS_READINESS_PROBE_SECONDS``. A read (``select 1``) would say "ok" on a read-only
  SQLite file or a full disk, where every alarm is refused; only a commit proves that an
  alarm can be acknowledged. 503 carries the reason (``database_unreachable``,
  ``read_only``, ``disk_full``, ``database_busy``, ``io_error``, ``journal_stalled``, …).
* ``GET /healthz`` — the same answer as ``/readyz`` (kept for existing load balancer
  configurations), plus the journal's counters.

Readiness changes are logged once per change, not once per failed request or probe.

``install`` also registers the handlers that turn a database outage anywhere (token and
session lookups, reads on pages and in the API, a journal that did not commit) into 503 with
``Retry-After``: JSON for the API, a page in the reader's language for people. Routes leave
``JournalUnavailable`` to this handler; the few API routes with codes of their own declare
them (``web/unavailable.py``), and forms that keep what the person typed show it in the form.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from respons import __version__
from respons.clock import Clock
from respons.store.db import DatabaseUnavailable, unavailability
from respons.store import heartbeats
from respons.store.journal import COMMIT_FAILED, Journal, JournalUnavailable
from respons.web.access import public
from respons.web.unavailable import declared_answer

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2
STARTING = "starting"
STALLED = "journal_stalled"
STOPPED = "journal_stopped"
# Paths answered in JSON even though they are not under /api/: monitoring reads them.
MACHINE_PATHS = ("/livez", "/readyz", "/healthz", "/metrics")

MESSAGES = {
    STARTING: "The node has not committed its first write yet.",
    STALLED: "The journal has not committed a probe in time; writes are stuck.",
    STOPPED: "The journal writer has stopped; restart the node.",
    "database_unreachable": "The database cannot be reached.",
    "read_only": "The database is read-only; nothing can be stored.",
    "disk_full": "The database's disk is full; nothing can be stored.",
    "database_busy": "The database is too busy or locked to commit.",
    "io_error": "The database reports an I/O error.",
    "database_corrupt": "The database file is damaged.",
}


# --- readiness ----------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    reason: str | None  # None: ready
    since: datetime
    detail: str = ""

    @property
    def ready(self) -> bool:
        return self.reason is None


class Readiness:
    """The node's readiness, fed by the journal (every batch) and the write probe.

    A failed commit makes the node not ready at once; only a probe that commits makes it
    ready again (any other commit wakes the probe), so a node whose small probe writes pass
    while larger batches fail cannot flap on every successful timer claim. Thread-safe: the
    journal reports from its writer thread.
    """

    def __init__(self, clock: Clock, *, probe_seconds: float):
        self._clock = clock
        self._lock = threading.Lock()
        self._state = State(STARTING, clock())
        self._last_probe = time.monotonic()
        self.probe_seconds = probe_seconds
        self.expect_probes = True  # a periodic probe runs: its silence means a stuck journal
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def state(self) -> State:
        with self._lock:
            state = self._state
            quiet = time.monotonic() - self._last_probe
        if state.ready and self.expect_probes and quiet > self.stall_after:
            # The probe has not come back: the journal is stuck (a lock, a hung connection).
            return State(STALLED, state.since, f"no probe committed for {quiet:.0f} s")
        return state

    @property
    def stall_after(self) -> float:
        return max(3 * self.probe_seconds, self.probe_seconds + 10)

    def journal_outcome(self, outcome: str | None) -> None:
        """From the journal's writer thread after every batch."""
        if outcome is None:
            if self._state.reason is not None:
                self._wake_probe()  # the database commits again: confirm it now
            return
        if outcome != COMMIT_FAILED:  # a refused batch (a constraint) is not an outage
            self.failed(outcome, "a journal batch did not commit")

    def failed(self, reason: str, detail: str = "") -> None:
        with self._lock:
            if self._state.reason == reason:
                return
            self._state = State(reason, self._clock(), detail)
        log.error("not ready: %s (%s)", reason, detail or MESSAGES.get(reason, ""))

    def probe_committed(self) -> None:
        with self._lock:
            self._last_probe = time.monotonic()
            if self._state.reason is None:
                return
            was, since = self._state.reason, self._state.since
            self._state = State(None, self._clock())
        if was == STARTING:
            log.info("ready: the first write committed")
        else:
            log.warning("ready again: the database commits (it did not: %s, since %s)", was, since.isoformat())

    def _wake_probe(self) -> None:
        if self._loop is not None and self._wake is not None:
            try:
                self._loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:
                pass  # the loop has closed: the node is stopping


class Probe:
    """Writes this node's heartbeat through the journal: once at start-up, then every
    ``probe_seconds`` (``periodic``: a serving node), every second while not ready, and at
    once when the journal commits again.

    Without ``periodic`` (an app built without background workers, as the tests build it)
    it writes only at start-up and while not ready, so it never races a test's own writes."""

    def __init__(self, journal: Journal, readiness: Readiness, clock: Clock, *, node: str, periodic: bool = True):
        self._periodic = periodic
        self._journal = journal
        self._readiness = readiness
        self._clock = clock
        self._node = node
        self._started_at = clock()
        self._task: asyncio.Task | None = None
        self.probes = 0

    async def start(self) -> None:
        self._readiness._loop = asyncio.get_running_loop()
        self._readiness._wake = asyncio.Event()
        await self.run_once()  # ready (or not, and why) before the first request
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="respons-readiness")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def run_once(self) -> None:
        readiness = self._readiness
        try:
            await asyncio.wait_for(
                self._journal.run(lambda conn: heartbeats.beat(conn, node=self._node, now=self._clock(),
                                                               started_at=self._started_at)),
                timeout=readiness.stall_after,
            )
        except asyncio.TimeoutError:
            readiness.failed(STALLED, f"the probe did not commit within {readiness.stall_after:.0f} s")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is a reason not to be ready
            readiness.failed(unavailability(exc) or COMMIT_FAILED, f"{exc.__class__.__name__}: {exc}"[:300])
        else:
            self.probes += 1
            readiness.probe_committed()

    async def _loop(self) -> None:
        readiness = self._readiness
        while True:
            if readiness.state.ready:
                pause = readiness.probe_seconds if self._periodic else None
            else:
                pause = min(1.0, readiness.probe_seconds)
            assert readiness._wake is not None
            readiness._wake.clear()
            try:
                await asyncio.wait_for(readiness._wake.wait(), timeout=pause)
            except asyncio.TimeoutError:
                pass
            await self.run_once()


# --- routes ------------------------------------------------------------------------------

router = APIRouter(tags=["health"])

_UNREADY = {"description": "Not ready: the reason, e.g. `database_unreachable`, `read_only`, `disk_full`."}


@router.get("/livez", summary="Is the process running? (no database)", dependencies=[Depends(public())],
            responses={503: {"description": "The journal writer has stopped: restart the node."}})
def livez(request: Request):
    rt = getattr(request.app.state, "runtime", None)
    if rt is not None and not rt.journal.alive:
        return JSONResponse({"status": "dead", "reason": STOPPED, "error": STOPPED, "message": MESSAGES[STOPPED]},
                            status_code=503)
    return {"status": "live", "version": __version__}


@router.get("/readyz", summary="Can this node commit? (load balancers: send traffic only on 200)",
            dependencies=[Depends(public())], responses={503: _UNREADY})
def readyz(request: Request):
    return _readiness_response(request)


@router.get("/healthz", summary="Alias of /readyz, with the journal's counters", dependencies=[Depends(public())],
            responses={503: _UNREADY})
def healthz(request: Request):
    rt = getattr(request.app.state, "runtime", None)
    extra = {"journal": vars(rt.journal.stats), "timers_fired": rt.timers.fired} if rt is not None else {}
    return _readiness_response(request, **extra)


def _readiness_response(request: Request, **extra) -> Response:
    readiness: Readiness | None = getattr(request.app.state, "readiness", None)
    rt = getattr(request.app.state, "runtime", None)
    if readiness is None or rt is None:
        state = State(STARTING, datetime.now().astimezone())
    elif not rt.journal.alive:
        state = State(STOPPED, readiness.state.since)
    else:
        state = readiness.state
    body = {"status": "ready" if state.ready else "not_ready", "since": state.since.isoformat(),
            "version": __version__, **extra}
    if rt is not None:
        # Whether this node's screens hear every node (docs/nodes.md). Not a readiness
        # condition: a node that can commit still takes alarms; its screens say they are not
        # live, and monitoring can alert on this field.
        body["live"] = rt.live.connected
        # Voice likewise (docs/voice.md): "ok", "not_configured" or "gateway_down". Alarms are
        # handled without it; the console says "Tale utilgjengelig".
        body["voice"] = rt.voice.problem or "ok" if rt.voice is not None else "not_configured"
    if state.ready:
        return JSONResponse(body)
    body.update(reason=state.reason, error=state.reason, message=MESSAGES.get(state.reason or "", "Not ready."),
                detail=state.detail)
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


# --- database faults anywhere -> 503 -------------------------------------------------------


def install(app: FastAPI) -> None:
    """503 with Retry-After for every request the database cannot serve just now."""
    app.include_router(router)

    @app.exception_handler(DatabaseUnavailable)
    async def database_unavailable(request: Request, exc: DatabaseUnavailable):
        return unavailable_response(request, exc.reason)

    @app.exception_handler(JournalUnavailable)
    async def journal_unavailable(request: Request, exc: JournalUnavailable):
        # Nothing in the unit was stored. A person gets the page; a route that has always
        # answered programs in its own words keeps them (web/unavailable.py).
        answer = declared_answer(request)
        if answer is None or _wants_html(request):
            return unavailable_response(request, exc.reason)
        return answer.response(exc)

    @app.exception_handler(SQLAlchemyError)
    async def database_error(request: Request, exc: SQLAlchemyError):
        reason = unavailability(exc)
        if reason is None:
            raise exc  # the statement's own fault: a bug, answered as any other
        return unavailable_response(request, reason)


def unavailable_response(request: Request, reason: str) -> Response:
    readiness: Readiness | None = getattr(request.app.state, "readiness", None)
    if readiness is not None and reason != COMMIT_FAILED:
        readiness.failed(reason, f"{request.method} {_template(request)} could not use the database")
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if _wants_html(request):
        from respons.web.pages import render  # pages import web.access; imported late to keep this module light

        return render(request, "error.html", status_code=503, headers=headers, message_key="error.503")
    message = f"{MESSAGES.get(reason, 'The database is unavailable.')} Nothing was stored; retry the same request."
    return JSONResponse({"error": "database_unavailable", "message": message, "reason": reason}, status_code=503,
                        headers=headers)


def _wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api/") or path in MACHINE_PATHS:
        return False
    return "text/html" in request.headers.get("accept", "") or bool(request.headers.get("HX-Request"))


def _template(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", None) or "(unmatched)"


async def start(app: FastAPI, journal: Journal, clock: Clock, *, node: str, probe_seconds: float,
                periodic: bool = True) -> Probe:
    """Called from the app's lifespan: readiness follows the journal and the probe."""
    readiness = Readiness(clock, probe_seconds=probe_seconds)
    readiness.expect_probes = periodic
    journal.on_outcome = readiness.journal_outcome
    app.state.readiness = readiness
    probe = Probe(journal, readiness, clock, node=node, periodic=periodic)
    await probe.start()
    return probe
