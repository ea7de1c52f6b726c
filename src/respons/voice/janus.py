"""The media gateway: Janus (Debian's ``janus``) with its SIP plugin, configured and started by
Respons for the demo and the tests, as PostgreSQL is (docs/voice.md, "The gateway").

Only what voice needs is loaded: the SIP plugin and the HTTP transport, from a private folder
of links into Debian's plugin folders, so a Janus installed for something else never exposes
more than this. The HTTP API listens on 127.0.0.1 and needs the API secret only Respons knows;
the admin API is off. Browsers never talk to it: they reach the gateway only with media
(WebRTC over UDP), and Respons does the signalling (voice/gateway.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Where Debian's package puts the plugins and transports (multiarch path of the build).
LIBRARY_DIRS = (Path("/usr/lib/x86_64-linux-gnu/janus"), Path("/usr/lib/aarch64-linux-gnu/janus"),
                Path("/usr/lib/janus"))
PLUGINS = ("libjanus_sip.so",)
# The camera look-ins' plugin (digital_supervision/camera.py), loaded when installed.
STREAMING = "libjanus_streaming.so"
TRANSPORTS = ("libjanus_http.so",)


@dataclass(frozen=True)
class GatewayConfig:
    folder: Path
    http_port: int
    api_secret: str
    # The address media is offered on to browsers (ICE). Janus never offers a loopback
    # address (its ice.c skips loopback interfaces), so this is the node's LAN address.
    media_ip: str
    # Where the SIP plugin speaks to devices and the trunk (signalling and plain RTP).
    sip_ip: str = "127.0.0.1"
    webrtc_ports: tuple[int, int] = (20200, 20299)
    sip_rtp_ports: tuple[int, int] = (20300, 20399)
    # The streaming plugin's own ports for a camera look-in without a fixed port.
    stream_ports: tuple[int, int] = (20400, 20449)
    session_timeout_seconds: int = 60

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/janus"


def janus_binary() -> str | None:
    return shutil.which("janus")


def library_dir() -> Path | None:
    return next((d for d in LIBRARY_DIRS if (d / "plugins" / PLUGINS[0]).exists()), None)


def camera_available() -> str | None:
    """None when the gateway can carry a camera's picture (its streaming plugin is installed)."""
    lib = library_dir()
    if lib is None or janus_binary() is None:
        return available()
    if not (lib / "plugins" / STREAMING).exists():
        return "Janus's streaming plugin was not found in " + str(lib / "plugins")
    return None


def available() -> str | None:
    """None when Janus and its SIP plugin are installed; otherwise what is missing, in one line."""
    if janus_binary() is None:
        return "Janus is not installed (Debian package janus; scripts/ensure-voice.sh)"
    if library_dir() is None:
        return "Janus's SIP plugin was not found in " + ", ".join(str(d) for d in LIBRARY_DIRS)
    return None


def write_config(config: GatewayConfig) -> Path:
    """Write the gateway's configuration into ``config.folder``; returns janus.jcfg's path."""
    lib = library_dir()
    if lib is None:
        raise RuntimeError(available())
    folder = config.folder
    plugins = PLUGINS + ((STREAMING,) if (lib / "plugins" / STREAMING).exists() else ())
    for sub, names, source in (("plugins", plugins, lib / "plugins"), ("transports", TRANSPORTS, lib / "transports")):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        for name in names:
            link = folder / sub / name
            if not link.exists():
                link.symlink_to(source / name)
    for sub in ("events", "loggers", "etc"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    etc = folder / "etc"
    (etc / "janus.jcfg").write_text(f"""general: {{
  configs_folder = "{etc}"
  plugins_folder = "{folder / 'plugins'}"
  transports_folder = "{folder / 'transports'}"
  events_folder = "{folder / 'events'}"
  loggers_folder = "{folder / 'loggers'}"
  debug_level = 4
  session_timeout = {config.session_timeout_seconds}
  api_secret = "{config.api_secret}"
  admin_secret = "{os.urandom(16).hex()}"
}}
certificates: {{}}
media: {{ rtp_port_range = "{config.webrtc_ports[0]}-{config.webrtc_ports[1]}" }}
nat: {{ nice_debug = false ice_enforce_list = "{config.media_ip}" }}
plugins: {{}}
transports: {{}}
loggers: {{}}
events: {{}}
""")
    (etc / "janus.transport.http.jcfg").write_text(f"""general: {{
  json = "compact" base_path = "/janus" http = true port = {config.http_port} ip = "127.0.0.1" https = false
}}
admin: {{ admin_http = false }}
""")
    (etc / "janus.plugin.sip.jcfg").write_text(f"""general: {{
  local_ip = "{config.sip_ip}"
  local_media_ip = "{config.sip_ip}"
  keepalive_interval = 0
  behind_nat = false
  register_ttl = 3600
  rtp_port_range = "{config.sip_rtp_ports[0]}-{config.sip_rtp_ports[1]}"
  sip_timer_t1x64 = 32000
}}
""")
    # Mountpoints are made per look-in over the API with the admin key (the API secret: the
    # one secret Respons holds for its gateway), private, never recorded, never saved.
    (etc / "janus.plugin.streaming.jcfg").write_text(f"""general: {{
  admin_key = "{config.api_secret}"
  rtp_port_range = "{config.stream_ports[0]}-{config.stream_ports[1]}"
  events = false
  string_ids = false
}}
""")
    return etc / "janus.jcfg"


def start(config: GatewayConfig, log_path: Path) -> subprocess.Popen:
    """Start Janus in the foreground of a child process (its log to ``log_path``)."""
    jcfg = write_config(config)
    log = open(log_path, "ab")
    return subprocess.Popen([janus_binary() or "janus", "-F", str(jcfg.parent), "-C", str(jcfg), "-o"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def lan_address() -> str | None:
    """The node's first non-loopback IPv4 address: where Janus can offer media (ICE)."""
    # No packet is sent: connecting a UDP socket only asks the kernel for the route's source.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.1", 9))  # TEST-NET-2: any routed address will do
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address
