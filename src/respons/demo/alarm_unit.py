"""A simulated alarm unit for the demo and the tests: baresip (Debian's ``baresip-core``)
with the unit's loudspeaker and microphone replaced by files (docs/voice.md, "Simulated units").

It auto-answers calls (as real units answer calls from the centre's number), plays a WAV file
as its microphone, records what it hears (``sndfile``: ``<recordings>/dump-*-dec.wav``), and
is driven over ``ctrl_tcp`` (netstring-framed JSON: ``dial``, ``hangup``; events
``CALL_ESTABLISHED``, ``CALL_CLOSED`` …).
"""

from __future__ import annotations

import array
import json
import math
import shutil
import socket
import subprocess
import time
import wave
from dataclasses import dataclass
from pathlib import Path

MODULE_DIR = Path("/usr/lib/baresip/modules")
# The demo's simulated unit (demo/voice.py): every worn demo safety alarm is called back here.
DEMO_UNIT_URI = "sip:trygghetsalarm@127.0.0.1:5072"


def available() -> str | None:
    if shutil.which("baresip") is None:
        return "baresip is not installed (Debian package baresip-core; scripts/ensure-voice.sh)"
    if not (MODULE_DIR / "ctrl_tcp.so").exists():
        return f"baresip's modules were not found in {MODULE_DIR}"
    return None


@dataclass(frozen=True)
class UnitConfig:
    folder: Path
    user: str  # the SIP user part the unit answers to
    sip_port: int  # baresip also takes sip_port + 1 for TLS: space units two apart
    ctrl_port: int
    microphone: Path  # a 48 kHz stereo WAV (aufile plays it once, then silence)
    rtp_ports: tuple[int, int] = (20000, 20099)
    ip: str = "127.0.0.1"
    answer: str = "auto"  # auto | manual (a unit that rings and waits)

    @property
    def uri(self) -> str:
        return f"sip:{self.user}@{self.ip}:{self.sip_port}"

    @property
    def recordings(self) -> Path:
        return self.folder / "recordings"


def write_tone(path: Path, hz: int, *, seconds: int, channels: int, volume: int = 12000) -> Path:
    """A 48 kHz 16-bit sine WAV: the unit's "microphone" (aufile wants what the config says:
    stereo); Chromium's fake microphone in the tests takes mono."""
    rate = 48000
    second = array.array("h")
    for n in range(rate):  # whole cycles per second: the seconds join without a click
        second.extend([int(volume * math.sin(2 * math.pi * hz * n / rate))] * channels)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        data = second.tobytes()
        for _ in range(seconds):
            out.writeframes(data)
    return path


def write_config(unit: UnitConfig) -> None:
    unit.folder.mkdir(parents=True, exist_ok=True)
    unit.recordings.mkdir(exist_ok=True)
    (unit.folder / "config").write_text(f"""poll_method epoll
net_interface {unit.ip}
sip_listen {unit.ip}:{unit.sip_port}
audio_player aubridge,speaker
audio_source aufile,{unit.microphone}
audio_alert aubridge,speaker
ausrc_srate 48000
auplay_srate 48000
ausrc_channels 2
auplay_channels 2
audio_buffer 20
rtp_ports {unit.rtp_ports[0]}-{unit.rtp_ports[1]}
module_path {MODULE_DIR}
module opus.so
module g711.so
module sndfile.so
module aufile.so
module aubridge.so
module_tmp uuid.so
module_tmp account.so
module_app contact.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{unit.ctrl_port}
snd_path {unit.recordings}
""")
    (unit.folder / "accounts").write_text(f"<{unit.uri}>;regint=0;answermode={unit.answer}\n")
    (unit.folder / "contacts").write_text("")


def start(unit: UnitConfig) -> subprocess.Popen:
    write_config(unit)
    log = open(unit.folder / "baresip.log", "ab")
    # baresip prints a status line every 100 ms on a terminal; stdout goes to the log.
    return subprocess.Popen(["baresip", "-f", str(unit.folder)], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


class Control:
    """ctrl_tcp: commands and the unit's events."""

    def __init__(self, port: int, *, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.buffer = b""
        self.events: list[dict] = []

    def command(self, command: str, params: str = "") -> dict:
        token = f"t{time.monotonic_ns()}"
        body = json.dumps({"command": command, "params": params, "token": token}).encode()
        self.sock.sendall(str(len(body)).encode() + b":" + body + b",")
        while True:
            message = self._read()
            if message.get("response") and message.get("token") == token:
                return message

    def wait_for(self, event_type: str, timeout: float = 15.0) -> dict:
        """The next event of ``event_type`` (CALL_ESTABLISHED, CALL_CLOSED, CALL_INCOMING …)."""
        for seen in self.events:
            if seen.get("type") == event_type:
                self.events.remove(seen)
                return seen
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                message = self._read()
            except socket.timeout:
                break
            if message.get("event"):
                if message.get("type") == event_type:
                    return message
                self.events.append(message)
        raise TimeoutError(f"the unit sent no {event_type} within {timeout} s (saw {[e.get('type') for e in self.events]})")

    def _read(self) -> dict:
        while b":" not in self.buffer or len(self.buffer) < self._frame_end():
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("baresip closed its control connection")
            self.buffer += chunk
        end = self._frame_end()
        length, _, rest = self.buffer.partition(b":")
        body, self.buffer = rest[:int(length)], self.buffer[end:]
        return json.loads(body)

    def _frame_end(self) -> int:
        length, sep, _ = self.buffer.partition(b":")
        return len(length) + 1 + int(length) + 1 if sep else 1 << 30

    def close(self) -> None:
        self.sock.close()
