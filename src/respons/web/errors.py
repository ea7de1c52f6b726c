"""One shape for every error the API returns: a code a program can branch on and a
message a person can act on.

Every 4xx and 5xx body is ``{"error", "message"}`` with optional ``details`` (for a request
that failed validation: one ``{"field", "in", "problem"}`` per problem). That includes the
framework's own answers — a body that cannot be parsed, a request that fails validation, an
unknown route, a method the route does not have — which FastAPI and Starlette would otherwise
answer with ``{"detail": …}``. ``install_error_handlers`` puts those handlers on the app and
documents the shape on every API operation in the OpenAPI document (see docs/architecture.md,
"Errors").
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ErrorOut(BaseModel):
    error: str = Field(description="A stable code a program can branch on, e.g. `not_found`, `invalid_request`.")
    message: str = Field(description="What went wrong and what to do, for a person.")
    details: Any = Field(None, description="More about the error; for `invalid_request`: a list of "
                                           "`{\"field\", \"in\", \"problem\"}`, one per problem.")
    # Older, route-specific fields; kept because clients read them.
    quarantine_id: str | None = Field(None, description="Intake: where the refused input is kept.")
    problems: list[dict[str, str]] | None = Field(None, description="Intake: `{\"field\", \"problem\"}` per problem.")
    state: str | None = Field(None, description="Operator actions: the alarm's state when refused.")
    holder: str | None = Field(None, description="Operator actions: who holds the alarm.")


def error_response(status: int, error: str, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {"error": error, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(status_code=status, content=body, headers=headers)


def describe_problems(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Pydantic's errors without the input they refused: echoing it could repeat personal data,
    and a lone surrogate in it could not even be encoded as the answer."""
    problems = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        where = loc.pop(0) if loc and loc[0] in ("body", "path", "query", "header", "cookie") else "body"
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "malformed")
            problems.append({"field": "(body)", "in": "body", "problem": f"not valid JSON ({reason})"})
            continue
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append({"field": ".".join(loc) or f"({where})", "in": where, "problem": message})
    return problems


def _where(problem: dict[str, str]) -> str:
    if problem["field"].startswith("("):
        return problem["in"]
    return problem["field"] if problem["in"] == "body" else f"{problem['field']} ({problem['in']})"


# The framework's own errors carry a string detail; these are their codes and messages.
_FRAMEWORK = {
    400: ("invalid_body", "The request body could not be read; send JSON encoded as UTF-8."),
    404: ("not_found", "No such route."),
    405: ("method_not_allowed", "This route does not take that method."),
}


def _wants_page(request: Request) -> bool:
    """A browser asking for a page outside the API gets a page, not JSON."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = getattr(exc, "headers", None)
        if isinstance(exc.detail, dict) and "error" in exc.detail:
            # Ours (access.not_found, _unauthorized, ...): already in the one shape.
            return JSONResponse(status_code=exc.status_code, content=exc.detail, headers=headers)
        if exc.status_code == 404 and _wants_page(request):
            from respons.web.pages import render

            return render(request, "error.html", status_code=404, message_key="error.404")
        error, message = _FRAMEWORK.get(exc.status_code, ("http_error", str(exc.detail)))
        return error_response(exc.status_code, error, message, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = describe_problems(exc.errors())
        message = "The request is not valid: " + "; ".join(f"{_where(p)}: {p['problem']}" for p in problems)
        return error_response(422, "invalid_request", message, details=problems)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # Starlette logs the traceback after this answer; the caller gets the one shape.
        return error_response(500, "internal_error", "Something unexpected went wrong; it has been logged.")

    _document_errors(app)


# --- the OpenAPI document ------------------------------------------------------------------

_REF = {"$ref": "#/components/schemas/ErrorOut"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _REF}}}


_GENERIC = {
    "400": "The body could not be read (not UTF-8, or not parseable).",
    "401": "Not logged in, or no valid API token.",
    "403": "Logged in, but not allowed here (role, token purpose or CSRF token).",
    "422": "The request is not valid; `details` names each field and problem.",
    "500": "An unexpected error; it has been logged.",
    "503": "The database is not available; nothing was changed. Retry.",
}


def _document_errors(app: FastAPI) -> None:
    """Every API operation documents the errors any route can give, in the one shape.

    Route-specific errors (404, 409, 429, ...) stay declared on the routes with ``responses=``;
    this adds what the framework and the access policies answer everywhere."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorOut"] = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                wanted = {"500", "503"}
                if operation.get("parameters") or operation.get("requestBody"):
                    wanted.add("422")
                if operation.get("requestBody"):
                    wanted.add("400")
                if operation.get("security"):
                    wanted |= {"401", "403"}
                responses = operation["responses"]
                for code in sorted(wanted):
                    existing = responses.get(code)
                    if existing is None or _is_framework_validation(existing):
                        responses[code] = _error(_GENERIC[code])
                for code, response in responses.items():
                    # A route's own error declared without a description gets FastAPI's default one.
                    if code.startswith(("4", "5")) and "content" not in response:
                        response["content"] = {"application/json": {"schema": _REF}}
        if "/HTTPValidationError" not in json.dumps(schema["paths"]):
            for unused in ("HTTPValidationError", "ValidationError"):
                components.pop(unused, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _is_framework_validation(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref", "").endswith("/HTTPValidationError")
