"""The FastAPI application: wires settings, store, journal and timer worker together."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from functools import partial
from datetime import timedelta

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

import respons.engine.alarms  # noqa: F401  (registers the alarm timer handlers)
import respons.engine.missions  # noqa: F401  (mission deadlines)
import respons.engine.routing  # noqa: F401  (resend and escalation timers)
from respons import __version__
from respons.clock import Clock, system_clock
from respons.engine.live import LiveBus
from respons.engine.supervision import SupervisionWorker
from respons.engine.timers import TimerWorker
from respons.intake.dc09.receiver import Receiver
from respons.intake.scaip.receiver import Receiver as ScaipReceiver
from respons.intake.mqtt.receiver import Broker as MqttBroker, Receiver as MqttReceiver
from respons.observability import metrics
from respons.settings import Settings, get_settings
from respons.store import live_relay
from respons.store.db import is_postgres, make_engine
from respons.store.journal import Journal
from respons.web.access import public
from respons.web.api_docs import install_api_docs
from respons.web import health, login, metrics as metrics_web
from respons.web.admin import pages as admin_pages
from respons.web.responder import pages as responder_app
from respons.web.statistics import pages as statistics_pages
from respons.web.deviations import pages as deviation_pages
from respons.web.economy import pages as economy_pages
from respons.web.api import access_admin, admin, audit, auth, deviations, intake, live, operator, registry, statistics
from respons.web.console import pages as console_pages
from respons.web.pages import STATIC_DIR, install_page_handlers
from respons.web.errors import install_error_handlers
from respons.web.runtime import Runtime, node_name

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
        engine = make_engine(settings.database_url)
        live = LiveBus()
        node = node_name(settings)
        # Several nodes share one PostgreSQL: changes travel between them by LISTEN/NOTIFY.
        relay = live_relay.Relay(engine.url, node, live).start() if is_postgres(engine) else None
        journal = Journal(
            engine, window_ms=settings.journal_window_ms, max_batch=settings.journal_max_batch, on_commit=live.publish,
            before_commit=partial(live_relay.notify, node=node) if relay else None,
        ).start()
        worker = TimerWorker(
            journal,
            clock,
            node=node,
            poll_seconds=settings.timer_poll_seconds,
            lease_seconds=settings.timer_lease_seconds,
        )
        app.state.runtime = Runtime(settings=settings, engine=engine, journal=journal, clock=clock, timers=worker, live=live)
        # /readyz: whether this node can commit (periodic probes only with the background workers).
        probe = await health.start(app, journal, clock, node=node, probe_seconds=settings.readiness_probe_seconds,
                                   periodic=run_timers)
        supervisor = SupervisionWorker(journal, clock, poll_seconds=settings.supervision_poll_seconds,
                                       answer_deadline=timedelta(seconds=settings.answer_deadline_seconds))
        if run_timers:
            worker.start()
            supervisor.start()
        dc09 = None
        if settings.dc09_port is not None:
            dc09 = Receiver(journal, clock, answer_deadline_seconds=settings.answer_deadline_seconds,
                            retransmit_seconds=settings.dc09_retransmit_seconds)
            metrics.timed_answers(dc09, "dc09")
            await dc09.start(settings.host, settings.dc09_port, settings.dc09_port)
            log.info("SIA DC-09 receiver on %s:%s (TCP and UDP)", settings.host, dc09.tcp_port)
        scaip = None
        if settings.scaip_port is not None:
            scaip = ScaipReceiver(journal, clock, answer_deadline_seconds=settings.answer_deadline_seconds)
            metrics.timed_answers(scaip, "scaip")
            await scaip.start(settings.host, settings.scaip_port, settings.scaip_port)
            log.info("SCAIP receiver on %s:%s (SIP over TCP and UDP)", settings.host, scaip.tcp_port)
        mqtt = None
        if settings.mqtt_url:
            mqtt = MqttReceiver(journal, clock, MqttBroker.from_url(settings.mqtt_url, username=settings.mqtt_username,
                                                                    password=settings.mqtt_password),
                                client_id=settings.mqtt_client_id, topics=settings.mqtt_topics,
                                session_expiry_seconds=settings.mqtt_session_expiry_seconds,
                                answer_deadline_seconds=settings.answer_deadline_seconds)
            await mqtt.start()
            log.info("MQTT intake from %s as %r", settings.mqtt_url.split("@")[-1], settings.mqtt_client_id)
        try:
            yield
        finally:
            if mqtt is not None:
                await mqtt.stop()  # before the journal closes: what it committed is acknowledged
            if scaip is not None:
                await scaip.stop()
            if dc09 is not None:
                await dc09.stop()
            await supervisor.stop()
            await worker.stop()
            await probe.stop()
            live.close()
            journal.close()
            if relay is not None:
                relay.stop()
            engine.dispose()

    app = FastAPI(
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
    app.include_router(registry.router)
    app.include_router(statistics.router)
    app.include_router(deviations.router)
    app.include_router(login.router)
    app.include_router(console_pages.router)
    app.include_router(admin_pages.router)
    app.include_router(responder_app.router)
    app.include_router(statistics_pages.router)
    app.include_router(deviation_pages.router)
    app.include_router(economy_pages.router)
    # Vendored, never a CDN: the console must work on a closed hospital network.
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_page_handlers(app)
    # /livez, /readyz, /healthz, and 503 with Retry-After for every database outage.
    health.install(app)
    # /metrics, the access log and X-Request-ID (docs/operations-health.md).
    metrics_web.install(app, metrics_token=settings.metrics_token, access_log_enabled=settings.access_log)
    install_api_docs(app)

    # One error shape ({"error", "message", "details"}) for every 4xx/5xx, the framework's too.
    install_error_handlers(app)

    return app
