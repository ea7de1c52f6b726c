"""/docs and /redoc work on a closed network: every asset they name is served by Respons itself."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from respons.settings import Settings
from respons.store.migrate import upgrade
from respons.web.app import create_app

BASE = "https://respons.example"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('docs') / 'respons.db'}"
    upgrade(url)
    with TestClient(create_app(Settings(database_url=url), run_timers=False), base_url=BASE) as c:
        yield c


def referenced_urls(html: str) -> list[str]:
    """Every URL the page makes the browser load: src and href attributes, and the spec URL
    handed to the script (Swagger UI's ``url: '…'``, ReDoc's ``spec-url``)."""
    found = re.findall(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']""", html)
    found += re.findall(r"""\burl\s*:\s*["']([^"']+)["']""", html)
    return found


@pytest.mark.parametrize("page, assets", [
    ("/docs", {"/static/vendor/swagger-ui-bundle.js", "/static/vendor/swagger-ui.css", "/openapi.json"}),
    ("/redoc", {"/static/vendor/redoc.standalone.js", "/openapi.json"}),
])
def test_the_api_documentation_names_no_other_host_and_every_asset_is_served(client, page, assets):
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    # No absolute URL at all: on a closed network a CDN, a font service or an online
    # validator is simply not there.
    assert re.findall(r"https?://[^\s\"'<>]+", html) == []

    urls = referenced_urls(html)
    assert assets <= set(urls), f"{page} names {urls}"
    for url in urls:
        target = urljoin(BASE + page, url)
        assert urlsplit(target).netloc == urlsplit(BASE).netloc, f"{page} loads {url} from another host"
        served = client.get(target)
        assert served.status_code == 200, f"{url}: {served.status_code}"
        assert len(served.content) > 0


def test_the_vendored_scripts_are_the_real_programs_with_their_licences(client):
    swagger = client.get("/static/vendor/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in swagger.text and len(swagger.content) > 500_000
    assert "javascript" in swagger.headers["content-type"]
    assert client.get("/static/vendor/swagger-ui.css").headers["content-type"].startswith("text/css")
    redoc = client.get("/static/vendor/redoc.standalone.js")
    assert "Redoc" in redoc.text and len(redoc.content) > 500_000
    assert "Apache License" in client.get("/static/vendor/swagger-ui.LICENSE").text
    assert "MIT" in client.get("/static/vendor/redoc.LICENSE").text


def test_swagger_ui_does_not_send_the_specification_to_an_online_validator(client):
    html = client.get("/docs").text
    assert '"validatorUrl": null' in html


def test_the_documentation_pages_are_not_part_of_the_api_contract(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/docs" not in paths and "/redoc" not in paths


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_documentation_pages_let_the_browser_load_from_this_server_only(client, page):
    """Whatever a vendored bundle asks for, the browser is told: this server only."""
    policy = client.get(page).headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert "http" not in policy and "*" not in policy


# Loads a script or stylesheet makes by itself (not links a person may follow): an image or
# script source, a CSS url() or @import, a fetch.
# Case matters: ``new URL("https://…")`` in a bundle only parses a URL, it loads nothing.
OUTSIDE_LOAD = re.compile(r"""(?:\bsrc\s*[:=]\s*|url\(\s*|@import\s+|fetch\(\s*)["']?https?://""")


def test_no_vendored_file_loads_anything_from_outside():
    from respons.web.pages import STATIC_DIR

    vendored = [p for p in (STATIC_DIR / "vendor").iterdir() if p.suffix in (".js", ".css")]
    assert len(vendored) >= 4
    for path in vendored:
        found = OUTSIDE_LOAD.findall(path.read_text(encoding="utf-8", errors="replace"))
        assert found == [], f"{path.name} loads from outside: {found[:3]}"
