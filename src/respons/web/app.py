"""The FastAPI application: one adapter of a running node (respons/runtime.py builds it)."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from respons import __version__
from respons.auth import passwords
from respons.clock import Clock, system_clock
from respons.runtime import Node
from respons.settings import Settings, get_settings
from respons.web.api_docs import install_api_docs
from respons.web import health, login, metrics as metrics_web
from respons.web.api import access_admin, admin, audit, auth, intake, live, operator
from respons.web.console import pages as console_pages
from respons.web.responder import pages as responder_app
# The administrative features, one folder each: their JSON API and their pages.
from respons.deviations import api as deviations_api, pages as deviation_pages
from respons.economy import pages as economy_pages
from respons.epj import pages as epj_pages
from respons.messages import api as messages_api, pages as message_pages
from respons.voice import pages as voice_pages
from respons.digital_supervision import api as supervision_api, pages as supervision_pages, round_pages
from respons.registry import api as registry_api, pages as registry_pages
from respons.statistics import api as statistics_api, pages as statistics_pages
from respons.web.pages import STATIC_DIR, install_page_handlers
from respons.web.errors import install_error_handlers
from respons.web.nul_guard import NulGuard

log = logging.getLogger(__name__)

DESCRIPTION = """
Respons receives alarms from safety alarms, sensors and vendor platforms and puts them
in front of the response centre.

* **Intake** — `POST /api/v1/alarms` answers 202 only after the alarm is durably committed.
* **Operator** — the queue, one alarm with its timeline, and answer / note / resolve / close.
* **Admin** — the quarantine of input that could not become an alarm.
"""


def create_app(settings: Settings | None = None, clock: Clock = system_clock, *, run_timers: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Before the first log-in: the hash a missing user is checked against (auth/passwords.py).
        await asyncio.to_thread(passwords.prepare)
        node = Node.open(settings, clock)
        app.state.runtime = node.runtime
        # /readyz: whether this node can commit (periodic probes only with the background workers).
        probe = await health.start(app, node.runtime.journal, clock, node=node.name,
                                   probe_seconds=settings.readiness_probe_seconds, periodic=run_timers)
        if run_timers:
            node.start_workers()
        try:
            await node.start_listeners()
            yield
        finally:
            await probe.stop()
            await node.stop()

    app = FastAPI(
        # Respons exports Prometheus metrics and its own access log (web/metrics.py), not
        # OpenTelemetry. Said here, FastAPI's telemetry middleware stops asking the global
        # OpenTelemetry providers (an environment lookup each) on every request: 5 % of the
        # HTTP intake's CPU per alarm.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        title="Respons",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served by web/api_docs.py from vendored files instead of FastAPI's CDN links.
        docs_url=None,
        redoc_url=None,
        openapi_tags=[
            {"name": "intake", "description": "Alarms from devices and vendor platforms."},
            {"name": "operator", "description": "The response centre's work."},
            {"name": "auth", "description": "Log-in with a session cookie; two-factor for administrators."},
            {"name": "admin", "description": "Administration."},
            {"name": "audit", "description": "The hash-chained audit log, for auditors."},
            {"name": "statistics", "description": "Key figures and exports per municipality (audited)."},
            {"name": "deviations", "description": "Deviation reports (avvik): register, handle, summarise."},
            {"name": "health", "description": "Liveness, readiness and metrics for load balancers and monitoring."},
        ],
    )
    app.include_router(intake.router)
    app.include_router(operator.router)
    app.include_router(live.router)
    app.include_router(admin.router)
    app.include_router(auth.router)
    app.include_router(access_admin.router)
    app.include_router(audit.router)
    app.include_router(registry_api.router)
    app.include_router(supervision_api.router)
    app.include_router(statistics_api.router)
    app.include_router(deviations_api.router)
    app.include_router(login.router)
    app.include_router(console_pages.router)
    app.include_router(registry_pages.router)
    app.include_router(supervision_pages.router)
    app.include_router(round_pages.router)
    app.include_router(responder_app.router)
    app.include_router(statistics_pages.router)
    app.include_router(deviation_pages.router)
    app.include_router(economy_pages.router)
    app.include_router(epj_pages.router)
    app.include_router(voice_pages.router)
    app.include_router(voice_pages.app_router)
    app.include_router(message_pages.router)
    app.include_router(messages_api.router)
    # Vendored, never a CDN: the console must work on a closed hospital network.
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_page_handlers(app)
    # A NUL in a page's path, query or form: 422 before a route sees it (web/nul_guard.py).
    # Added before the access log, which therefore wraps (and logs) the refusal.
    app.add_middleware(NulGuard)
    # /livez, /readyz, /healthz, and 503 with Retry-After for every database outage.
    health.install(app)
    # /metrics, the access log and X-Request-ID (docs/operations-health.md).
    metrics_web.install(app, metrics_token=settings.metrics_token, access_log_enabled=settings.access_log)
    install_api_docs(app)

    # One error shape ({"error", "message", "details"}) for every 4xx/5xx, the framework's too.
    install_error_handlers(app)

    return app
