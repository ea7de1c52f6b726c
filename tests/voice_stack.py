"""The voice peers for tests: the real gateway (Janus), baresip as the alarm unit, SIPp as a
busy line, test tones, and a check of which tone a recording holds.

Installed by scripts/ensure-voice.sh. Without them the voice tests skip and say why; with
RESPONS_REQUIRE_VOICE=1 (set by .ci/run) they fail instead.
"""

from __future__ import annotations

import array
import math
import os
import secrets
import shutil
import socket
import subprocess
import time
import wave
from pathlib import Path

import httpx
import pytest

from respons.demo import alarm_unit, camera, phone_line
from respons.voice import janus
from tests.chaos.server import free_port

REQUIRE_VOICE = os.environ.get("RESPONS_REQUIRE_VOICE") == "1"
REQUIRE_CAMERA = os.environ.get("RESPONS_REQUIRE_CAMERA") == "1"
UNIT_TONE = 1000  # Hz: what the alarm unit's microphone plays
OPERATOR_TONE = 660  # Hz: what the operator's fake microphone plays


def require_voice() -> None:
    problem = janus.available() or alarm_unit.available() or (None if janus.lan_address() else
                                                              "this machine has no non-loopback address for media")
    if problem:
        if REQUIRE_VOICE:
            pytest.fail(f"voice tests cannot run: {problem} (RESPONS_REQUIRE_VOICE=1)")
        pytest.skip(f"voice tests skipped: {problem}")


def require_camera() -> None:
    """The gateway with its streaming plugin, and GStreamer as the camera (scripts/ensure-camera.sh)."""
    problem = janus.camera_available() or camera.available() or (None if janus.lan_address() else
                                                                 "this machine has no non-loopback address for media")
    if problem:
        if REQUIRE_CAMERA:
            pytest.fail(f"camera tests cannot run: {problem} (RESPONS_REQUIRE_CAMERA=1)")
        pytest.skip(f"camera tests skipped: {problem}")


def camera_port(n: int = 0) -> int:
    """A port for a simulated camera to send to, of this xdist worker's own."""
    return _rtp_base() + 350 + n


def tone(path: Path, hz: int, *, seconds: float, channels: int) -> Path:
    return alarm_unit.write_tone(path, hz, seconds=int(seconds), channels=channels)


def level_db(path: Path, hz: float) -> float:
    """The power (dB, arbitrary reference) of ``hz`` in the middle second of a recording (Goertzel)."""
    with wave.open(str(path)) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        samples = array.array("h", w.readframes(w.getnframes()))[::channels]
    middle = samples[len(samples) // 2 - rate // 2: len(samples) // 2 + rate // 2]
    k = 2 * math.cos(2 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for x in middle:
        s1, s2 = x + k * s1 - s2, s1
    return 10 * math.log10(s1 * s1 + s2 * s2 - k * s1 * s2 + 1)


class Gateway:
    """Janus, configured by Respons's own voice/janus.py, on ports of its own."""

    def __init__(self, folder: Path, *, session_timeout: int = 60):
        base = _rtp_base()
        self.config = janus.GatewayConfig(folder=folder, http_port=free_port(), api_secret=secrets.token_hex(16),
                                          media_ip=janus.lan_address() or "127.0.0.1",
                                          webrtc_ports=(base, base + 99), sip_rtp_ports=(base + 100, base + 199),
                                          stream_ports=(base + 300, base + 349),
                                          session_timeout_seconds=session_timeout)
        self.log = folder / "janus.log"
        self.process: subprocess.Popen | None = None

    @property
    def settings(self) -> dict[str, str]:
        return {"voice_gateway_url": self.config.url, "voice_gateway_secret": self.config.api_secret}

    def start(self, timeout: float = 15.0) -> "Gateway":
        self.config.folder.mkdir(parents=True, exist_ok=True)
        self.process = janus.start(self.config, self.log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"janus exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.config.url + "/info", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"janus did not answer; see {self.log}")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


class Unit:
    """baresip as an alarm unit that auto-answers (or only rings), playing ``UNIT_TONE``."""

    def __init__(self, folder: Path, *, answer: str = "auto", microphone: Path):
        base = _rtp_base() + 200
        sip_port = _free_pair()
        ctrl_port = next(p for p in iter(free_port, None) if p not in (sip_port, sip_port + 1))
        self.config = alarm_unit.UnitConfig(folder=folder, user="alarm", sip_port=sip_port, ctrl_port=ctrl_port,
                                            microphone=microphone, rtp_ports=(base, base + 99), answer=answer)
        self.process = alarm_unit.start(self.config)
        self.control = alarm_unit.Control(self.config.ctrl_port)

    @property
    def uri(self) -> str:
        return self.config.uri

    def heard(self) -> Path:
        """The recording of what the unit heard in its last call."""
        found = sorted(self.config.recordings.glob("*-dec.wav"))
        assert found, f"the unit recorded nothing; see {self.config.folder / 'baresip.log'}"
        return found[-1]

    def stop(self) -> None:
        self.control.close()
        stop(self.process)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, and SIGKILL if it has not ended in 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _rtp_base() -> int:
    """Media ports per xdist worker, above the kernel's ephemeral range (which ends at 60999)
    and the test servers' port blocks: the gateway's WebRTC and SIP-side RTP, then units'."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:]
    return 61000 + 600 * (int(worker) % 7 if worker.isdigit() else 0)


def _free_pair() -> int:
    """A UDP/TCP port whose next port is free too (baresip listens on port + 1 for TLS)."""
    for _ in range(50):
        port = free_port()
        if port < 65000:
            try:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue
    raise RuntimeError("no two free ports in a row")


BUSY_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="busy line">
  <recv request="INVITE"/>
  <send><![CDATA[
SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag=[pid]busy[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <recv request="ACK"/>
</scenario>
"""


class BusyLine:
    """SIPp answering one INVITE with 486 Busy Here."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        scenario = folder / "busy.xml"
        scenario.write_text(BUSY_SCENARIO)
        self.port = free_port()
        self.process = subprocess.Popen(
            [shutil.which("sipp") or "sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(self.port), "-m", "1",
             "-nostdin", "-trace_err", "-error_file", str(folder / "sipp-errors.log")],
            cwd=folder, stdout=open(folder / "sipp.log", "ab"), stderr=subprocess.STDOUT)
        time.sleep(0.3)

    @property
    def uri(self) -> str:
        return f"sip:busy@127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop(self.process)


class EchoLine:
    """The simulated trunk (demo/phone_line.py): answers every number, echoes the audio."""

    def __init__(self, folder: Path):
        self.config = phone_line.LineConfig(folder=folder, sip_port=free_port(), media_port=_rtp_base() + 300)
        self.process = phone_line.start(self.config)
        time.sleep(0.3)

    @property
    def settings(self) -> dict[str, str]:
        return {"voice_trunk": self.config.trunk}

    def dialled(self) -> list[str]:
        """The Request-URIs of the INVITEs the line received."""
        text = self.config.messages.read_text() if self.config.messages.exists() else ""
        return [line.split()[1] for line in text.splitlines() if line.startswith("INVITE ")]

    def stop(self) -> None:
        stop(self.process)


def offer_sdp(ip: str) -> str:
    """A WebRTC offer as a browser writes one (audio, opus, DTLS-SRTP, one host candidate)."""
    fingerprint = ":".join(f"{b:02X}" for b in secrets.token_bytes(32))
    lines = ["v=0", f"o=- {secrets.randbits(62)} 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0",
             "a=msid-semantic: WMS bench", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0",
             "a=rtcp:9 IN IP4 0.0.0.0", f"a=ice-ufrag:{secrets.token_hex(2)}", f"a=ice-pwd:{secrets.token_hex(12)}",
             f"a=fingerprint:sha-256 {fingerprint}", "a=setup:actpass", "a=mid:0", "a=sendrecv", "a=rtcp-mux",
             "a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10;useinbandfec=1", "a=ssrc:1001 cname:bench",
             f"a=candidate:1 1 udp 2122260223 {ip} 9 typ host"]
    return "\r\n".join(lines) + "\r\n"
