#!/usr/bin/env python
"""Benchmark camera look-ins: how many camera pictures at once can the gateway carry on this
machine, and what does each cost (issue 19)?

For each count of look-ins at once (default 1 as the reference, then 4 and 8), on one machine:
the real gateway (Janus's streaming plugin, configured by ``respons.voice.janus``), one
simulated camera per look-in (GStreamer's live test picture, 640×480 at 15 frames a second,
VP8 over RTP: ``respons.demo.camera``), Respons's own look-in code
(``digital_supervision/camera.Cameras``: a private mountpoint per look-in, the picture offered
only once the camera's packets arrive), and one real Chromium page holding every viewer
(WebRTC, receive only, as round.js does). Measured:

* **open**: from asking for the picture to the gateway's offer (mountpoint, the wait for the
  camera's packets, watch), per look-in;
* **first frame**: from the browser's answer to its first decoded frame;
* **frames per second** each viewer decoded over ``--seconds`` (the camera sends 15);
* **gateway CPU** (user+system from /proc) per look-in-second, and the cameras' own CPU as
  the reference of the same run (a camera is an encoder: real cameras bring their own).

Figures go to ``bench/results/camera_streams-<UTC>.json``. This is a benchmark, not a test.

    .venv/bin/python bench/camera_streams.py --counts 1,4,8 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from playwright.async_api import async_playwright  # noqa: E402
from rich.console import Console  # noqa: E402

from respons.demo import camera as simulated  # noqa: E402
from respons.digital_supervision.camera import Cameras, Source  # noqa: E402
from respons.voice.gateway import Gateway as GatewayApi  # noqa: E402
from tests.browser.harness import find_chromium  # noqa: E402
from tests.voice_stack import Gateway, camera_port  # noqa: E402
from intake_http import process_cpu_seconds  # noqa: E402
import ratios  # noqa: E402

VIEWER = """
async ([id, offer]) => {
  const pc = new RTCPeerConnection();
  const video = document.createElement("video");
  video.muted = true; video.autoplay = true; video.playsInline = true;
  document.body.appendChild(video);
  const viewer = { pc, frames: 0, first: null, answeredAt: null };
  (window.viewers = window.viewers || {})[id] = viewer;
  pc.ontrack = (e) => { video.srcObject = e.streams[0] || new MediaStream([e.track]); };
  const onFrame = () => { viewer.frames++; if (viewer.first === null) viewer.first = performance.now();
                          video.requestVideoFrameCallback(onFrame); };
  video.requestVideoFrameCallback(onFrame);
  await pc.setRemoteDescription(offer);
  await pc.setLocalDescription(await pc.createAnswer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") resolve(); });
    setTimeout(resolve, 3000);
  });
  viewer.answeredAt = performance.now();
  return pc.localDescription.sdp;
}
"""


async def measure(browser, gateway: Gateway, count: int, seconds: float, workdir: Path) -> dict:
    cameras = [simulated.start(camera_port(n), log_path=workdir / f"camera-{n}.log") for n in range(count)]
    node = Cameras(GatewayApi(gateway.config.url, gateway.config.api_secret))
    page = await browser.new_page()
    try:
        await asyncio.sleep(1.0)  # the cameras are sending
        opened, first_frames = [], []
        for n in range(count):
            started = time.perf_counter()
            offer = await node.open(1000 + n, Source.parse(f"rtp:{camera_port(n)}/vp8"), seconds=seconds + 30)
            opened.append((time.perf_counter() - started) * 1000)
            answer = await page.evaluate(VIEWER, [n, offer])
            await node.answer(1000 + n, {"type": "answer", "sdp": answer})
        await page.wait_for_function(f"Object.values(window.viewers).filter(v => v.first !== null).length === {count}",
                                     timeout=20_000)
        first_frames = await page.evaluate("Object.values(window.viewers).map(v => v.first - v.answeredAt)")
        janus_before = process_cpu_seconds(gateway.process.pid)
        cams_before = sum(process_cpu_seconds(c.pid) for c in cameras)
        frames_before = await page.evaluate("Object.values(window.viewers).map(v => v.frames)")
        await asyncio.sleep(seconds)
        frames_after = await page.evaluate("Object.values(window.viewers).map(v => v.frames)")
        janus_used = process_cpu_seconds(gateway.process.pid) - janus_before
        cams_used = sum(process_cpu_seconds(c.pid) for c in cameras) - cams_before
        fps = [(after - before) / seconds for before, after in zip(frames_before, frames_after)]
        for n in range(count):
            await node.close(1000 + n)
        await node.gateway.close()
    finally:
        await page.close()
        for camera in cameras:
            simulated.stop(camera)
    return {
        "lookins_at_once": count,
        "open_ms_p50": round(statistics.median(opened), 1),
        "open_ms_max": round(max(opened), 1),
        "first_frame_ms_p50": round(statistics.median(first_frames), 1),
        "first_frame_ms_max": round(max(first_frames), 1),
        "fps_per_viewer_min": round(min(fps), 1),
        "fps_per_viewer_mean": round(statistics.mean(fps), 1),
        "gateway_cpu_percent_per_lookin": round(100 * janus_used / seconds / count, 2),
        "camera_cpu_percent_each": round(100 * cams_used / seconds / count, 2),
    }


async def run(counts: list[int], seconds: float) -> tuple[list[dict], str]:
    with tempfile.TemporaryDirectory() as tmp:
        async with async_playwright() as p:
            chromium, reason = find_chromium()
            if chromium is None:
                sys.exit(reason)
            browser = await p.chromium.launch(executable_path=chromium, args=["--autoplay-policy=no-user-gesture-required"])
            gateway = Gateway(Path(tmp) / "janus").start()
            try:
                results = [await measure(browser, gateway, count, seconds, Path(tmp)) for count in counts]
            finally:
                gateway.stop()
                version = browser.version
                await browser.close()
    return results, version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="1,4,8", help="look-ins at once; the first is the reference")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    results, version = asyncio.run(run([int(c) for c in args.counts.split(",")], args.seconds))
    console = Console()
    ratios.print_table(console, "Camera look-ins at once through the gateway (real Janus, GStreamer cameras, Chromium)",
                       results, "lookins_at_once", "at once")
    ratios.write(console, "camera_streams", results, seconds=args.seconds, machine={"chromium": version})


if __name__ == "__main__":
    main()
