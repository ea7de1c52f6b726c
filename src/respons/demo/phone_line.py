"""A simulated SIP trunk for the demo and the tests: SIPp's own UAS scenario on 127.0.0.1
answers every number it is given and sends the caller's audio straight back (``-rtp_echo``).

So "Ring opp" to a person's or a contact's phone works on one machine, and reaches no one:
the trunk is a loopback address and SIPp dials nothing (docs/voice.md, "The demo").
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


def available() -> str | None:
    if shutil.which("sipp") is None:
        return "SIPp is not installed (Debian package sip-tester; scripts/ensure-voice.sh)"
    return None


@dataclass(frozen=True)
class LineConfig:
    folder: Path
    sip_port: int  # the trunk's address is 127.0.0.1:sip_port
    media_port: int  # where SIPp receives the audio it echoes (and media_port + 2)

    @property
    def trunk(self) -> str:
        """The value of RESPONS_VOICE_TRUNK that sends phone numbers here."""
        return f"127.0.0.1:{self.sip_port}"

    @property
    def messages(self) -> Path:
        """SIPp's trace of the SIP it received and sent (what number the gateway dialled)."""
        return self.folder / "messages.log"


def start(config: LineConfig) -> subprocess.Popen:
    config.folder.mkdir(parents=True, exist_ok=True)
    with open(config.folder / "sipp.log", "ab") as log:  # SIPp keeps its own copy of the descriptor
        return subprocess.Popen(
            [shutil.which("sipp") or "sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(config.sip_port),
             "-mi", "127.0.0.1", "-mp", str(config.media_port), "-rtp_echo", "-nostdin",
             "-trace_msg", "-message_file", str(config.messages.resolve())],
            cwd=config.folder, stdout=log, stderr=subprocess.STDOUT)
