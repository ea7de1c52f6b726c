"""NUL in a page's request: refused with 422 before any route sees it.

PostgreSQL refuses NUL in text (web/bounds.py says why the API's ``Text`` refuses it by
validation). The pages take their input as forms and path segments, which ``Text`` does not
reach, and a NUL there ended as a 500 on PostgreSQL (and was stored on SQLite). A browser
never sends one; only hostile or broken input does, so one guard for every page is enough:
a NUL in the path or query string (``%00``), in a form (``%00`` or a raw NUL byte) or in any
other body (JSON's ``\\u0000``, or a raw NUL: FastAPI reads a body without a content type, or
with ``…+json``, as JSON) is refused with the one error shape. The API (``/api/``) is not
guarded here: it refuses field by field (``Text``), and the intake keeps what it refuses for
an administrator.

A page's body is read here, whole, and handed on unchanged: a page's form is small. It is read
before the session is checked, so it is bounded (``MAX_BODY``, else 413).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from respons.web.errors import error_response

MESSAGE = "The request contains a NUL character (\\u0000), which cannot be stored."
MAX_BODY = 1024 * 1024  # the largest page body: a supervision plan's instructions, a call's SDP (20 kB)
_IN_URL = (b"%00", b"\x00")
_IN_FORM = (b"%00", b"\x00")
_IN_MULTIPART = (b"\x00",)
_IN_OTHER = (b"\\u0000", b"\x00")
_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_REFUSAL = error_response(422, "invalid_request", MESSAGE)
_TOO_LARGE = error_response(413, "request_too_large", f"A page's request body may be at most {MAX_BODY} bytes.")


class NulGuard:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _route_path(scope).startswith("/api/"):
            await self.app(scope, receive, send)
            return
        url = scope.get("raw_path", b"") + b"?" + scope.get("query_string", b"")
        if any(mark in url for mark in _IN_URL):
            await _REFUSAL(scope, receive, send)
            return
        if scope["method"] not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        if body is None:
            await _TOO_LARGE(scope, receive, send)
            return
        if any(mark in body for mark in _marks(_content_type(scope))):
            await _REFUSAL(scope, receive, send)
            return
        await self.app(scope, _replay(messages, receive), send)


def _route_path(scope: Scope) -> str:
    """The path the routes see: without the prefix a proxy mounts Respons under (root_path)."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


def _content_type(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip().lower()
    return ""


def _marks(content_type: str) -> tuple[bytes, ...]:
    if content_type == "application/x-www-form-urlencoded":
        return _IN_FORM
    if content_type == "multipart/form-data":
        return _IN_MULTIPART
    return _IN_OTHER


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The request's messages up to the end of its body, and the body (None: past MAX_BODY)."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        size += len(message.get("body", b""))
        if size > MAX_BODY:
            return messages, None
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    return messages, b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()  # after the body: a disconnect, when the client goes

    return replay
