"""Real Chromium against a real ``respons serve``: shared by the browser tests, the
screenshot command (scripts/screenshots.py) and the console benchmark (bench/).

Playwright drives the machine's own Chromium (Debian's ``chromium`` package) through
``executable_path``; ``playwright install`` is never needed. ``find_chromium`` says why
when there is none, so the tests can skip (locally) or fail (CI) with that reason.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Headless, no sandbox (containers), and sound allowed without a click so the alarm sound
# can be checked; nothing reaches out to the network on its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
VIEWPORT = {"width": 1920, "height": 1080}
AXE_JS = Path(__file__).parent / "vendor" / "axe.min.js"


def find_chromium() -> tuple[str | None, str]:
    """(path, reason): the browser to drive, or None and why not."""
    configured = os.environ.get("RESPONS_CHROMIUM")
    if configured:
        if Path(configured).is_file():
            return configured, ""
        return None, f"RESPONS_CHROMIUM={configured} does not exist"
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found, ""
    return None, (
        "no Chromium found (looked for RESPONS_CHROMIUM and " + ", ".join(CHROMIUM_NAMES) + " on PATH); "
        "install Debian's package: apt-get install chromium"
    )


def launch(playwright, *, extra_args: list[str] = (), **kwargs):
    path, reason = find_chromium()
    if path is None:
        raise RuntimeError(reason)
    return playwright.chromium.launch(executable_path=path, args=[*CHROMIUM_ARGS, *extra_args], **kwargs)


@dataclass
class Account:
    username: str
    password: str
    totp_secret: str | None = None


def log_in(page, base_url: str, account: Account, *, next_path: str = "") -> None:
    """Log in through the real form, as a person would."""
    from respons.auth import totp
    from respons.clock import system_clock

    page.goto(base_url + "/login" + (f"?next={next_path}" if next_path else ""))
    page.fill("#username", account.username)
    page.fill("#password", account.password)
    if account.totp_secret:
        page.fill("#totp", totp.code_at(account.totp_secret, system_clock()))
    page.click("button[type=submit]")
    page.wait_for_load_state("load")


def run_axe(page, *, context: str = "document") -> list[dict]:
    """WCAG 2.1 A/AA violations on the page, by axe-core (vendored, MPL-2.0)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        """async (context) => {
            const r = await axe.run(context === 'document' ? document : document.querySelector(context),
                {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
        }""",
        context,
    )
    return result


def keyboard_walk(page, *, max_steps: int = 200) -> list[dict]:
    """Press Tab until focus comes round again; return each stop and whether focus showed.

    A stop "shows focus" when the focused element has an outline or a box-shadow:
    what :focus-visible gives every control in respons.css.
    """
    page.evaluate("document.activeElement && document.activeElement.blur()")
    stops: list[dict] = []
    seen: set[str] = set()
    for _ in range(max_steps):
        page.keyboard.press("Tab")
        info = page.evaluate(
            """() => {
                const e = document.activeElement;
                if (!e || e === document.body) return null;
                const s = getComputedStyle(e);
                const path = [];
                for (let n = e; n && n.nodeType === 1; n = n.parentElement) {
                    path.unshift(n.tagName + (n.id ? '#' + n.id : '') + ':' + Array.prototype.indexOf.call(n.parentElement ? n.parentElement.children : [], n));
                }
                return {key: path.join('>'), tag: e.tagName, id: e.id, name: e.getAttribute('name'),
                        text: (e.innerText || e.value || '').trim().slice(0, 40),
                        visible: (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none'};
            }"""
        )
        if info is None:
            continue
        if stops and info["key"] == stops[-1]["key"]:
            continue  # the next part of the same control (a date input's day, month, year)
        if info["key"] in seen:
            break
        seen.add(info["key"])
        stops.append(info)
    return stops


def interactive_elements(page) -> list[dict]:
    """Every visible control a person could use on the page."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, [tabindex="0"]'))
            .filter(e => !e.disabled && e.offsetParent !== null && !e.closest('dialog:not([open])'))
            .map(e => ({tag: e.tagName, id: e.id, name: e.getAttribute('name'), text: (e.innerText || e.value || '').trim().slice(0, 40)}))"""
    )
