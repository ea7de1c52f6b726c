"""The interactive API documentation (Swagger UI at /docs, ReDoc at /redoc) from vendored files.

FastAPI's own pages load their scripts from a CDN; a response centre often runs on a closed
network, where they would be blank. The assets live in ``static/vendor`` (refreshed by
``scripts/vendor-api-docs.sh``) and the pages name only this server.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse

VENDOR = "/static/vendor"
FAVICON = "/static/icon.svg"
# The browser may load from this server only, whatever a vendored bundle asks for (ReDoc's
# sidebar logo came from a CDN). Inline script and style: FastAPI's page starts Swagger UI
# with an inline script, and both programs style elements inline; ReDoc searches in a worker
# made from a blob.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
                           "connect-src 'self'; frame-ancestors 'self'")


def install_api_docs(app: FastAPI, *, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve /docs and /redoc; ``app`` must be created with ``docs_url=None, redoc_url=None``."""
    title = f"{app.title} – API"

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return _closed(get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=title,
            swagger_js_url=f"{root}{VENDOR}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{VENDOR}/swagger-ui.css",
            swagger_favicon_url=root + FAVICON,
            # Swagger UI would otherwise send the whole specification to an online validator.
            swagger_ui_parameters={"validatorUrl": None},
        ))

    async def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        return _closed(get_redoc_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=title,
            redoc_js_url=f"{root}{VENDOR}/redoc.standalone.js",
            redoc_favicon_url=root + FAVICON,
            with_google_fonts=False,
        ))

    # Plain routes, as FastAPI adds its own: public pages, outside the OpenAPI document and
    # outside the API's access policies (they show only what /openapi.json publishes anyway).
    app.add_route(docs_url, swagger_ui, include_in_schema=False)
    app.add_route(redoc_url, redoc, include_in_schema=False)


def _closed(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page


def _root(request: Request) -> str:
    # Behind a proxy that mounts Respons under a prefix (uvicorn --root-path), links keep it.
    return request.scope.get("root_path", "").rstrip("/")
