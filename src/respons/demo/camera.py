"""A simulated supervision camera for the demo and the tests: GStreamer's live test picture,
VP8 as RTP to the gateway's port, as a camera set to send to the centre does (Debian's
gstreamer1.0-tools, -plugins-base and -plugins-good; scripts/ensure-camera.sh).

Anything that sends to a mountpoint's port reaches its viewers, so a camera is stopped with
its whole process group, and each test gives its camera a port of its own.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path


def available() -> str | None:
    """None when the simulated camera can run; otherwise what is missing, in one line."""
    if shutil.which("gst-launch-1.0") is None:
        return "GStreamer is not installed (Debian gstreamer1.0-tools; scripts/ensure-camera.sh)"
    inspect = shutil.which("gst-inspect-1.0")
    for element in ("videotestsrc", "vp8enc", "rtpvp8pay", "udpsink"):
        if inspect is None or subprocess.run([inspect, element], capture_output=True).returncode != 0:
            return f"GStreamer's {element} is missing (gstreamer1.0-plugins-base/-good; scripts/ensure-camera.sh)"
    return None


def start(port: int, *, host: str = "127.0.0.1", log_path: Path | None = None) -> subprocess.Popen:
    """Send a live 640×480 test picture at 15 frames a second, a key frame every 2 s (a
    viewer's first picture waits for one: ask real cameras for 1–2 s too)."""
    pipeline = ("videotestsrc is-live=true pattern=smpte ! video/x-raw,width=640,height=480,framerate=15/1,format=I420"
                f" ! vp8enc deadline=1 keyframe-max-dist=30 ! rtpvp8pay pt=96 ! udpsink host={host} port={port}")
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    return subprocess.Popen(["gst-launch-1.0", "-q", *pipeline.split()], stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
