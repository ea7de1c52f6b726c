"""Server-rendered pages: templates, language, and access for people in a browser.

Pages use the same session and the same policies as the JSON API (``web/access.py``); only
the failure differs: a person who is not logged in is sent to the log-in page (htmx
requests get ``HX-Redirect``), and a refusal is a page in their language, not JSON.

Every page template gets ``t`` (the translator), ``lang``, ``principal`` (or None),
``csrf_token`` and ``user_name``. htmx sends the CSRF token as the ``X-CSRF-Token`` header
(set once on ``<body hx-headers=…>``), so page actions pass the same CSRF check as the API.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from respons.clock import OSLO
from respons.domain.access import Role
from respons.formatting import Formats
from respons.web import i18n, labels
from respons.web.access import Policy, Principal, _authenticate, _cookie

WEB = Path(__file__).parent
# The alarm core's screens live in web/; each administrative feature keeps its templates in
# its own folder (respons/<feature>/templates/<feature>/…).
FEATURES = WEB.parent
TEMPLATE_DIRS = [WEB / "templates", WEB / "console" / "templates", WEB / "responder" / "templates",
                 FEATURES / "registry" / "templates", FEATURES / "statistics" / "templates",
                 FEATURES / "deviations" / "templates", FEATURES / "economy" / "templates", FEATURES / "epj" / "templates",
                 FEATURES / "voice" / "templates", FEATURES / "digital_supervision" / "templates",
                 FEATURES / "messages" / "templates"]
STATIC_DIR = WEB / "static"

environment = Environment(
    loader=FileSystemLoader([str(d) for d in TEMPLATE_DIRS]),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,  # a typo in a template fails the test that renders it
    trim_blocks=True,
    lstrip_blocks=True,
)


def _oslo(value: datetime | None, fmt: str = "%d.%m.%Y %H:%M") -> str:
    return value.astimezone(OSLO).strftime(fmt) if value else ""


environment.filters["oslo"] = _oslo
environment.filters["oslo_time"] = lambda v: _oslo(v, "%H:%M:%S")
# A time kept as ISO text in an event's data (e.g. when next of kin must answer by).
environment.filters["iso_oslo_time"] = lambda v: _oslo(datetime.fromisoformat(v), "%H:%M") if v else ""


class LoginRequired(Exception):
    def __init__(self, next_path: str):
        self.next_path = next_path


class PageRefused(Exception):
    def __init__(self, status: int, message_key: str):
        self.status = status
        self.message_key = message_key


def page_access(*roles: Role, any_user: bool = False) -> Callable:
    """Like ``access()`` for pages: same policy, a browser-friendly failure."""
    policy = Policy(roles=frozenset(roles), any_user=any_user)

    async def dependency(request: Request, _credentials=Depends(_cookie)) -> Principal:
        try:
            principal = _authenticate(request, policy)
        except HTTPException as exc:
            if exc.status_code == 401:
                raise LoginRequired(request.url.path) from None
            raise PageRefused(exc.status_code, f"error.{exc.status_code}") from None
        request.state.principal = principal
        return principal

    dependency.respons_policy = policy
    return dependency


def render(request: Request, template: str, status_code: int = 200, headers: dict | None = None, **context: Any) -> HTMLResponse:
    lang = i18n.language_of(request)
    principal: Principal | None = getattr(request.state, "principal", None)
    t = i18n.translator(lang)
    base = {
        "request": request,
        "t": t,
        # Codes the database keeps (device kinds, actors, languages) named for the reader.
        **labels.helpers(t),
        "lang": lang,
        # Numbers, money and durations in the reader's language (one decimal mark per language).
        "fmt": Formats(lang),
        "languages": i18n.LANGUAGES,
        "principal": principal,
        "csrf_token": principal.session.csrf_token if principal and principal.session else "",
        "roles": {g.role.value for g in principal.grants} if principal else set(),
        # From the session lookup: rendering a fragment costs no extra query.
        "user_name": principal.session.display_name if principal and principal.session else "",
    }
    html = environment.get_template(template).render({**base, **context})  # a page may pass its own fmt
    return HTMLResponse(html, status_code=status_code, headers=headers)


def home_for(grants) -> str:
    """Where a person lands after log-in: their working screen, by their roles."""
    roles = {g.role for g in grants}
    if Role.OPERATOR in roles:
        return "/console"
    if roles & {Role.HOST_ADMIN, Role.MUNICIPALITY_ADMIN}:
        return "/admin/registry"
    if roles & {Role.RESPONDER, Role.TECHNICIAN}:
        return "/app"
    if Role.AUDITOR in roles:
        return "/stats"
    return "/docs"


def install_page_handlers(app) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired):
        target = "/login?next=" + quote(exc.next_path, safe="/")
        if request.headers.get("HX-Request"):
            return HTMLResponse("", status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(PageRefused)
    async def refused(request: Request, exc: PageRefused):
        return render(request, "error.html", status_code=exc.status, message_key=exc.message_key)


def done(request: Request, url: str) -> Response:
    """After a saved form: htmx follows ``HX-Redirect``; a plain request gets a 303."""
    if request.headers.get("HX-Request"):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
