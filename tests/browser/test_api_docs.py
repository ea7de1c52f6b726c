"""/docs and /redoc in real Chromium on a "closed network": every request to another host is
refused by the test, and the pages still render the API, with no Content-Security-Policy
violation (the policy lets the browser load from this server only)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect


@pytest.mark.parametrize("path, rendered", [
    ("/docs", "#swagger-ui .opblock-summary-path"),   # an operation's path: the spec was read and drawn
    ("/redoc", "[role=menuitem]"),                    # ReDoc's menu of operations
])
def test_the_api_documentation_renders_with_nothing_from_outside(new_page, world, path, rendered):
    page = new_page()
    own = urlsplit(world.url).netloc
    outside: list[str] = []
    violations: list[str] = []

    def refuse_outside(route):
        if urlsplit(route.request.url).netloc not in (own, ""):
            outside.append(route.request.url)
            return route.abort()
        return route.continue_()

    page.route("**/*", refuse_outside)
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(world.url + path)
    expect(page.locator(rendered).first).to_be_visible(timeout=20_000)
    page.wait_for_timeout(500)  # late loads (a logo, a font) after the first paint
    assert outside == [], f"{path} asked for {outside}"
    assert violations == [], violations
