"""The log-in page, log-out, the language choice and the front door (``/``).

The log-in form is protected against cross-site submission by a double-submit token: a
random value in a short-lived cookie and in a hidden field, which a foreign site can
neither read nor set. (The session cookie itself is ``SameSite=Strict``.) The work is the
same ``accounts.log_in`` as the JSON API, so lockout and audit behave identically.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from respons.auth import accounts
from respons.store.journal import JournalUnavailable
from respons.web import i18n
from respons.web.access import SESSION_COOKIE, Policy, Principal, _authenticate, public
from respons.web.client_address import client_address
from respons.web.pages import home_for, page_access, render
from respons.web.runtime import runtime

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "respons_login_csrf"

i18n.register(
    {
        # One answer for a wrong user name, password or code, and for a missing or reused code:
        # telling them apart would let the password be probed without the second factor.
        "login.refused.credentials": (
            "Feil brukernavn, passord eller engangskode. Administratorer skriver engangskoden sammen med passordet.",
            "Wrong username, password or one-time code. Administrators enter the one-time code together with the password.",
        ),
        "login.refused.throttled_seconds": (
            "For mange mislykkede forsøk med dette brukernavnet herfra. Vent {seconds} sekunder og prøv igjen.",
            "Too many failed attempts with this username from here. Wait {seconds} seconds and try again.",
        ),
        "login.refused.throttled_minutes": (
            "For mange mislykkede forsøk med dette brukernavnet herfra. Vent {minutes} minutter og prøv igjen, "
            "eller be en administrator låse opp kontoen.",
            "Too many failed attempts with this username from here. Wait {minutes} minutes and try again, "
            "or ask an administrator to unlock the account.",
        ),
    }
)


def _refusal_text(t, refusal: accounts.LoginRefused) -> str:
    wait = refusal.retry_after or 60
    if refusal.reason == "bad_credentials":
        return t("login.refused.credentials")
    if refusal.reason == "throttled":
        if wait < 120:
            return t("login.refused.throttled_seconds", seconds=wait)
        return t("login.refused.throttled_minutes", minutes=round(wait / 60))
    return t(f"login.refused.{refusal.reason}", minutes=max(1, round(wait / 60)))


def _safe_next(value: str | None) -> str | None:
    # Only paths on this site: "//evil.example" and "https://…" would be open redirects.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


def _login_page(request: Request, *, status_code: int = 200, error: str | None = None, username: str = "",
                next_path: str | None = None):
    token = secrets.token_urlsafe(24)
    if error is not None and error in i18n.CATALOGUE:
        error = i18n.translator(i18n.language_of(request))(error)
    response = render(
        request, "login.html", status_code=status_code, error=error, username=username,
        next_path=_safe_next(next_path) or "", login_csrf=token,
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="strict", path="/login",
                        secure=runtime(request).settings.cookie_secure)
    return response


@router.get("/login", dependencies=[Depends(public())])
def login_form(request: Request, next: str | None = None):
    return _login_page(request, next_path=next, error="login.expired" if next else None)


@router.post("/login", dependencies=[Depends(public())])
async def login_submit(
    request: Request,
    username: str = Form("", max_length=100),
    password: str = Form("", max_length=200),
    totp: str = Form("", max_length=10),
    login_csrf: str = Form(""),
    next: str = Form(""),
):
    t = i18n.translator(i18n.language_of(request))
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    # Compared as bytes: compare_digest refuses non-ASCII text (a TypeError, a 500 for anyone).
    if not cookie or not secrets.compare_digest(cookie.encode(), login_csrf.encode()):
        return _login_page(request, status_code=403, error="login.csrf", username=username, next_path=next)
    rt = runtime(request)
    address = client_address(request, rt.settings.trusted_proxies)
    try:
        result = await accounts.log_in_through(
            rt.journal, rt.engine, username=username, password=password, totp_code=totp or None,
            remote_addr=address, user_agent=request.headers.get("user-agent"), now=rt.clock(),
            session_ttl=timedelta(hours=rt.settings.session_hours))
    except JournalUnavailable:
        # Not the app's error page (web/unavailable.py): the form stays, with the user name
        # typed, so the person only has to press the button again.
        return _login_page(request, status_code=503, error="login.unavailable", username=username, next_path=next)
    if isinstance(result, accounts.LoginRefused):
        status = 429 if result.reason in ("throttled", "address_limited") else 401
        page = _login_page(request, status_code=status, error=_refusal_text(t, result), username=username, next_path=next)
        if result.retry_after:
            page.headers["Retry-After"] = str(result.retry_after)
        return page
    destination = _safe_next(next) or home_for(result.grants)
    response = RedirectResponse(destination, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, result.session_token, max_age=int(rt.settings.session_hours * 3600), httponly=True,
        secure=rt.settings.cookie_secure, samesite="strict", path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, principal: Principal = Depends(page_access(any_user=True))):
    rt = runtime(request)
    session = principal.session
    await rt.journal.run(lambda conn: accounts.log_out(conn, session.session_id, user_id=principal.id, now=rt.clock()))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    if request.headers.get("HX-Request"):
        response.headers["HX-Redirect"] = "/login"
    return response


@router.post("/language", dependencies=[Depends(public())])
def choose_language(request: Request, lang: str = Form(...), next: str = Form("/")):
    response = RedirectResponse(_safe_next(next) or "/", status_code=303)
    if lang in i18n.LANGUAGES:
        response.set_cookie(i18n.LANGUAGE_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", path="/")
    return response


@router.get("/", dependencies=[Depends(public())])
def front_door(request: Request):
    """Logged in: your working screen. Otherwise: the log-in page."""
    try:
        principal = _authenticate(request, Policy(any_user=True))
    except Exception:  # noqa: BLE001 - any refusal means "not logged in" here
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(home_for(principal.grants), status_code=303)
