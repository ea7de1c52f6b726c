"""The queue at the screens centres really have: one-line rows, at least 15 in view at
1366×768 and 1440×900, no text running into the next column. Screenshots of both are kept
in docs/screenshots/ (console-queue-1366x768.png, console-queue-1440x900.png): a run with
RESPONS_UPDATE_SCREENSHOTS=1 writes them there; otherwise into the test's own folder, so
running the suite leaves the work tree as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, update

from respons.store.tables import recipients
from tests.browser.harness import log_in

LIVE = 10_000
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# Long real-world names and addresses: the case where columns used to overlap.
NAMES = [("Ragnhild Margrethe", "Kristoffersen-Haugland", "Gamle Kongevei 114 B"),
         ("Per Olav", "Abrahamsen", "Vestre Strandgate 27"),
         ("Tordis", "Gundersen Lie", "Dronningens gate 5")]

MEASURE = """() => {
    const scroll = document.querySelector('#queue-scroll').getBoundingClientRect();
    const head = document.querySelector('#queue thead').getBoundingClientRect();
    const rows = Array.from(document.querySelectorAll('#queue-body tr.alarm-row'));
    const visible = rows.filter(r => { const b = r.getBoundingClientRect();
        return b.top >= head.bottom - 1 && b.bottom <= scroll.bottom + 1 && b.height > 0; });
    const problems = [];
    let previous = null;
    for (const row of visible) {
        const rb = row.getBoundingClientRect();
        if (previous && rb.top < previous.bottom - 0.5) problems.push('rows overlap: ' + row.id);
        previous = rb;
        const cells = Array.from(row.cells);
        const boxes = cells.map(c => c.getBoundingClientRect());
        cells.forEach((cell, i) => {
            const style = getComputedStyle(cell);
            const clips = style.overflowX === 'hidden';
            const range = document.createRange();
            range.selectNodeContents(cell);
            const lines = new Set();
            for (const r of range.getClientRects()) {
                if (r.width === 0 || r.height === 0) continue;
                lines.add(Math.round(r.top + r.height / 2));
                // What is painted: the text's box, clipped to its cell when the cell clips.
                const left = clips ? Math.max(r.left, boxes[i].left) : r.left;
                const right = clips ? Math.min(r.right, boxes[i].right) : r.right;
                if (right <= left) continue;
                boxes.forEach((other, j) => {
                    if (j !== i && left < other.right - 0.5 && right > other.left + 0.5)
                        problems.push(row.id + ': text of column ' + i + ' runs into column ' + j);
                });
                if (r.top < rb.top - 0.5 || r.bottom > rb.bottom + 0.5) problems.push(row.id + ': text outside its row');
            }
            const centres = Array.from(lines).sort((a, b) => a - b);
            if (centres.length && centres[centres.length - 1] - centres[0] > 6) problems.push(row.id + ': column ' + i + ' wraps');
        });
    }
    // The widest answer clock a centre sees (over two hours waiting) must fit its cell,
    // not be cut to "25:" as it was.
    const clock = document.querySelector('#queue-body [data-clock]');
    if (clock) {
        const shown = clock.textContent;
        clock.textContent = '125:59';
        const cell = clock.closest('td').getBoundingClientRect(), box = clock.getBoundingClientRect();
        if (box.right > cell.right + 0.5 || box.left < cell.left - 0.5) problems.push('the answer clock does not fit its column');
        clock.textContent = shown;
    }
    const who = document.querySelector('#queue thead th:nth-child(3)').getBoundingClientRect().width;
    return {visible: visible.length, total: rows.length, problems, recipientWidth: who};
}"""


@pytest.mark.parametrize("width, height", [(1366, 768), (1440, 900)])
def test_fifteen_one_line_rows_in_view_without_overlap(new_page, world, width, height, tmp_path):
    engine = create_engine(world.database_url)
    with engine.begin() as conn:
        for rid, (given, family, address) in zip(world.registry.recipient_ids, NAMES * 3):
            conn.execute(update(recipients).where(recipients.c.id == rid).values(
                given_name=given, family_name=family, address=address))
    engine.dispose()
    page = new_page(viewport={"width": width, "height": height})
    log_in(page, world.url, world.operators[0])
    expect(page.locator("#live-status")).to_have_attribute("data-live", "up", timeout=LIVE)
    devices = world.registry.device_identities
    types = ["fall", "button_press", "door_opened", "button_press", "fire", "bed_exit"]
    sent = [world.send_alarm(type=types[n % len(types)], device=devices[n % len(devices)]) for n in range(20)]
    expect(page.locator("#queue-body tr.alarm-row")).to_have_count(len(sent), timeout=LIVE)
    # One answered alarm, so a "taken by" status is measured too.
    page.locator(f"#row-{sent[1]}").click()
    page.keyboard.press("a")
    expect(page.locator(f"#row-{sent[1]}")).to_contain_text("Tatt av deg", timeout=LIVE)

    measured = page.evaluate(MEASURE)
    folder = DOCS_SCREENSHOTS if os.environ.get("RESPONS_UPDATE_SCREENSHOTS") == "1" else tmp_path
    page.screenshot(path=str(folder / f"console-queue-{width}x{height}.png"))
    assert measured["problems"] == []
    assert measured["visible"] >= 15, measured
    assert measured["recipientWidth"] >= 120, measured
