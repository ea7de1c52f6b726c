"""The demo's voice: the gateway, one simulated alarm unit and a simulated phone line on this
machine, so the console's "Ring opp" works out of the box (`respons serve --demo-voice`;
docs/voice.md).

Nothing leaves the machine: the gateway's SIP side listens on 127.0.0.1, every demo safety
alarm's voice address is the one simulated unit (``DEMO_UNIT_URI``), and the trunk that phone
numbers go to is SIPp on 127.0.0.1, which answers every number with the caller's own voice and
dials nothing (demo/phone_line.py).
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

from respons.demo import alarm_unit, camera, phone_line
from respons.demo.supervision import DEMO_CAMERA_PORTS
from respons.voice import janus

FOLDER = Path("var") / "demo-voice"
GATEWAY_PORT = 8088
UNIT_TONE_HZ = 440
LINE_SIP_PORT, LINE_MEDIA_PORT = 5074, 20600


def problem() -> str | None:
    """None when the demo can have voice; otherwise why not, in a few words."""
    return (janus.available() or alarm_unit.available() or phone_line.available()
            or (None if janus.lan_address() else "this machine has no network address to offer media on"))


def start(folder: Path = FOLDER) -> tuple[list[subprocess.Popen], dict[str, str]]:
    """Start the gateway, the simulated unit and the simulated phone line; returns them and the
    settings that use them."""
    folder.mkdir(parents=True, exist_ok=True)
    config = janus.GatewayConfig(folder=(folder / "janus").resolve(), http_port=GATEWAY_PORT,
                                 api_secret=secrets.token_hex(16), media_ip=janus.lan_address(),
                                 webrtc_ports=(20300, 20399), sip_rtp_ports=(20400, 20499),
                                 stream_ports=(20650, 20699))
    gateway = janus.start(config, folder / "janus.log")
    user, _, rest = alarm_unit.DEMO_UNIT_URI.removeprefix("sip:").partition("@")
    microphone = folder / "unit-microphone.wav"
    if not microphone.exists():
        alarm_unit.write_tone(microphone, UNIT_TONE_HZ, seconds=600, channels=2, volume=4000)
    unit = alarm_unit.start(alarm_unit.UnitConfig(
        folder=(folder / "unit").resolve(), user=user, sip_port=int(rest.rpartition(":")[2]), ctrl_port=4442,
        microphone=microphone.resolve(), rtp_ports=(20500, 20599)))
    line = phone_line.LineConfig(folder=(folder / "phone-line").resolve(), sip_port=LINE_SIP_PORT,
                                 media_port=LINE_MEDIA_PORT)
    # The demo's supervision cameras (demo/supervision.py): GStreamer's test picture to the
    # gateway, when GStreamer is installed (scripts/ensure-camera.sh); without it the round's
    # camera look-ins say "camera unavailable", as they would for a broken camera.
    cameras = [camera.start(port, log_path=folder / f"camera-{port}.log") for port in DEMO_CAMERA_PORTS
               if camera.available() is None]
    return [gateway, unit, phone_line.start(line), *cameras], {"voice_gateway_url": config.url,
                                                     "voice_gateway_secret": config.api_secret,
                                                     "voice_trunk": line.trunk}
