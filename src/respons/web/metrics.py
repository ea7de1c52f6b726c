"""``GET /metrics`` (Prometheus), the access log and the request id.

**Who may scrape.** By default ``/metrics`` is open, like ``/readyz``: a response centre's
nodes sit on a closed network and the figures carry no personal data (counts per
municipality number, alarm type and route template). Where the network is shared, set
``RESPONS_METRICS_TOKEN`` and give Prometheus ``authorization: {credentials: <token>}``;
a scrape without it gets 401. (Or let the reverse proxy allow only the Prometheus host.)

**Cheap at scrape time.** The figures that are states of the database (alarms waiting per
municipality and the oldest wait, timers due and the oldest due, the quarantine) are asked
for when Prometheus scrapes (``observability/gauges.py``), with queries that use the queue's and the timers' indexes. If
the database does not answer, they are left out and ``respons_database_up`` is 0; the
scrape itself still answers.

**Access log.** One line per request on the ``respons.access`` logger: method, route
*template* (never the raw path or query, which can carry ids), status, duration and the
request id. ``RESPONS_ACCESS_LOG=false`` turns it off (the metrics stay).
"""

from __future__ import annotations

import hmac
import logging
import time

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError
from starlette.routing import Match, Route

from respons.observability import gauges, logs, metrics
from respons.web.access import public

access_log = logging.getLogger(logs.ACCESS_LOGGER)

INTAKE_ROUTE = ("POST", "/api/v1/alarms")

router = APIRouter(tags=["health"])


@router.get("/metrics", summary="Prometheus metrics (text format)", dependencies=[Depends(public())],
            response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "The Prometheus text exposition format."},
                       401: {"description": "RESPONS_METRICS_TOKEN is set and the request did not carry it."}})
def scrape(request: Request):
    token = request.app.state.metrics_token
    if token:
        offered = request.headers.get("authorization", "")
        if not hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
            return JSONResponse({"error": "unauthenticated", "message": "Send the metrics token: Authorization: Bearer …"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
    body = generate_latest(REGISTRY) + generate_latest(request.app.state.metrics_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class _NodeCollector:
    """The figures read at scrape time: this app's live state and the database's."""

    def __init__(self, app: FastAPI):
        self._app = app

    def collect(self):
        state = self._app.state
        rt = getattr(state, "runtime", None)
        readiness = getattr(state, "readiness", None)
        if rt is None:
            return
        ready = GaugeMetricFamily("respons_ready", "1 while /readyz answers 200 (the node can commit).")
        ready.add_metric([], 1.0 if readiness is not None and readiness.state.ready else 0.0)
        yield ready
        yield GaugeMetricFamily("respons_live_streams", "Open event streams (consoles and responder apps) on this node.",
                                value=rt.live.subscribers)
        yield GaugeMetricFamily("respons_journal_queued_units", "Units waiting for the journal writer.",
                                value=rt.journal.queued)
        up = GaugeMetricFamily("respons_database_up", "1 if the scrape-time queries below answered.")
        try:
            families = gauges.from_database(rt.engine, now=rt.clock())
        except SQLAlchemyError:
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        yield from families


class ObserveRequests:
    """ASGI middleware: request id in and out, HTTP metrics, HTTP intake's ACK time, and the
    access log. Plain ASGI rather than BaseHTTPMiddleware, which would buffer the event
    streams and run the app in another task (the request id would not reach its logs)."""

    def __init__(self, app, *, access_log_enabled: bool = True):
        self.app = app
        self.access_log_enabled = access_log_enabled

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        offered = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                offered = value.decode("latin-1")
                break
        request_id = logs.accept_request_id(offered)
        token = logs.request_id.set(request_id)
        started = time.perf_counter()
        answered: list[float] = []
        status = [500]  # if the app raises before answering, ServerErrorMiddleware answers 500

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                answered.append(time.perf_counter())
                message = {**message, "headers": [*message.get("headers", ()), (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            ended = time.perf_counter()
            first_byte = (answered[0] if answered else ended) - started
            method, route = scope["method"], _template(scope)
            metrics.HTTP_REQUESTS.labels(method, route, str(status[0])).inc()
            metrics.HTTP_SECONDS.labels(method, route).observe(first_byte)
            if (method, route) == INTAKE_ROUTE and status[0] == 202:
                metrics.ACK_SECONDS.labels("http").observe(first_byte)
            if self.access_log_enabled:
                access_log.info("%s %s %s %.1fms request_id=%s", method, route, status[0], (ended - started) * 1000,
                                request_id, extra={"method": method, "route": route, "status": status[0],
                                                   "duration_ms": round((ended - started) * 1000, 1)})
            logs.request_id.reset(token)


def _template(scope) -> str:
    route = scope.get("route") or _plain_route(scope)
    path = getattr(route, "path", None)
    if path is None:
        return "(unmatched)"  # never the raw path: unknown paths would grow the series without bound
    if getattr(route, "routes", None) is not None or route.__class__.__name__ == "Mount":
        return path + "/{path}"
    return path


def _plain_route(scope):
    """The route a request matched when the router did not note it (plain Starlette routes
    such as /docs, /redoc and /openapi.json: only FastAPI's own routes put themselves in the
    scope)."""
    app = scope.get("app")
    for route in getattr(getattr(app, "router", None), "routes", ()):
        if isinstance(route, Route) and route.matches(scope)[0] is Match.FULL:
            return route
    return None


def install(app: FastAPI, *, metrics_token: str, access_log_enabled: bool) -> None:
    app.state.metrics_token = metrics_token
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_NodeCollector(app))
    app.state.metrics_registry = registry
    app.include_router(router)
    app.add_middleware(ObserveRequests, access_log_enabled=access_log_enabled)
