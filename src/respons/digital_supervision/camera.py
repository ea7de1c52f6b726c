"""A camera look-in's picture through the gateway's streaming plugin (docs/supervision.md,
"The camera").

For each look-in a private mountpoint is made (with a secret and a PIN only this node knows)
on the camera's source: an RTP port the camera sends to, or an RTSP address the gateway
fetches. Before the browser is offered anything the mountpoint must have received the
camera's packets within ``frames_timeout``; otherwise the camera is unavailable and nothing
is shown (never a frozen picture). The browser gets the gateway's offer through Respons and
answers through Respons, so it holds no gateway credential, and it can only watch the
mountpoint of a look-in it started. After the look-in's maximum length the mountpoint is
destroyed by this node: the picture stops whatever the browser does. Nothing is recorded.

The look-in's session lives on the node that opened it (as a call does): the browser's answer
must reach the same node (sticky sessions behind a load balancer; docs/nodes.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from respons.digital_supervision.lookins import LOOKIN_CHANGED, WITHDRAWN
from respons.voice.gateway import STREAMING_PLUGIN, Gateway, GatewayError, SipHandle

log = logging.getLogger(__name__)

# Mountpoint ids: a look-in's own, so a node restarted mid-look-in finds and removes it.
MOUNT_BASE = 7_000_000
_RTP = re.compile(r"^rtp:(\d{4,5})/(vp8|h264)$")


class CameraUnavailable(Exception):
    """The camera sends no picture (or the gateway cannot take it): the reason, in English."""


@dataclass(frozen=True)
class Source:
    """Where a camera's picture comes from (devices.video_source)."""

    kind: str  # "rtp" (the camera sends to the gateway's port) or "rtsp" (the gateway fetches)
    port: int | None = None
    codec: str = "vp8"
    url: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Source":
        rtp = _RTP.match(text or "")
        if rtp:
            return cls("rtp", port=int(rtp.group(1)), codec=rtp.group(2))
        if (text or "").startswith(("rtsp://", "rtsps://")):
            return cls("rtsp", url=text)
        raise ValueError(f"not a video source: {text!r}")

    def mountpoint(self) -> dict[str, Any]:
        if self.kind == "rtsp":
            return {"type": "rtsp", "url": self.url, "video": True, "audio": False}
        video: dict[str, Any] = {"type": "video", "mid": "v", "port": self.port}
        if self.codec == "h264":
            video |= {"pt": 126, "codec": "h264", "fmtp": "profile-level-id=42e01f;packetization-mode=1"}
        else:
            video |= {"pt": 96, "codec": "vp8"}
        return {"type": "rtp", "media": [video]}


@dataclass
class Viewing:
    lookin_id: int
    handle: SipHandle
    mount_id: int
    secret: str
    opened: float = field(default_factory=time.monotonic)
    closer: asyncio.Task | None = None
    poller: asyncio.Task | None = None  # keeps the gateway's session alive
    closed: bool = False


def ended_from_outside(change: dict[str, Any]) -> int | None:
    """The look-in whose picture a change on the live bus ends (``lookins.consent_withdrawn``
    announces ``{"event": "lookin", "what": "withdrawn", "lookin_id": …}``), or None."""
    if change.get("event") == LOOKIN_CHANGED and change.get("what") == WITHDRAWN:
        return change.get("lookin_id")
    return None


class Cameras:
    """The camera look-ins open on this node."""

    def __init__(self, gateway: Gateway | None, *, frames_timeout: float = 5.0, keepalive_seconds: float = 20.0,
                 on_closed: Callable[[int, float], Awaitable[Any]] | None = None):
        self.gateway = gateway
        self.frames_timeout = frames_timeout
        self.keepalive_seconds = keepalive_seconds
        self.on_closed = on_closed  # (look-in, seconds open): for the audit log
        self._open: dict[int, Viewing] = {}
        self._opening: set[int] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    # The live bus's observer (engine/live.py): every node hears every node's changes.
    def changes(self, changes: list[dict[str, Any]]) -> None:
        """A look-in's picture ended from outside (``ended_from_outside``: consent withdrawn,
        on whichever node): if this node shows it, it closes now. Called in the publishing
        thread: the close is handed to the event loop."""
        for change in changes:
            lookin_id = ended_from_outside(change)
            if lookin_id is not None and lookin_id in self._open and self._loop is not None:
                self._loop.call_soon_threadsafe(lambda i=lookin_id: asyncio.ensure_future(self.close(i)))

    def resync(self) -> None:
        pass

    @property
    def configured(self) -> bool:
        return self.gateway is not None

    def is_open(self, lookin_id: int) -> bool:
        return lookin_id in self._open

    async def open(self, lookin_id: int, source: Source, *, seconds: float) -> dict[str, Any]:
        """Make the look-in's mountpoint, wait for the camera's picture, and return the
        gateway's offer for the browser; the picture stops after ``seconds``."""
        if self.gateway is None:
            raise CameraUnavailable("no gateway")
        self._loop = asyncio.get_running_loop()
        if lookin_id in self._opening:
            raise CameraUnavailable("being opened")  # two requests at once (two tabs): one picture
        self._opening.add(lookin_id)
        try:
            # Asked again (the operator's page was reloaded): the old picture ends, a new one starts.
            await self.close(lookin_id)
            return await self._open_new(lookin_id, source, seconds)
        finally:
            self._opening.discard(lookin_id)

    async def _open_new(self, lookin_id: int, source: Source, seconds: float) -> dict[str, Any]:
        try:
            handle = await self.gateway.open_handle(STREAMING_PLUGIN)
        except GatewayError as exc:
            raise CameraUnavailable(str(exc)) from exc
        mount_id, secret, pin = MOUNT_BASE + lookin_id, self._secret(lookin_id), secrets.token_hex(8)
        viewing = Viewing(lookin_id, handle, mount_id, secret)
        try:
            await handle.request({"request": "create", "admin_key": self.gateway.api_secret, "id": mount_id,
                                  "description": f"respons-lookin-{lookin_id}", "is_private": True,
                                  "secret": secret, "pin": pin, "permanent": False, **source.mountpoint()})
            self._open[lookin_id] = viewing
            viewing.closer = asyncio.get_running_loop().create_task(self._close_after(viewing, seconds))
            await self._wait_for_picture(viewing)
            await handle.send({"request": "watch", "id": mount_id, "pin": pin})
            offer = await self._offer(handle)
            # The gateway drops a session it has not heard from for a minute; a look-in may last
            # five. A long poll does not count as hearing from it (only a request's start does),
            # so the session is kept alive by an explicit keep-alive, well inside the timeout.
            viewing.poller = asyncio.get_running_loop().create_task(self._keep_alive(viewing))
            return offer
        except (GatewayError, CameraUnavailable, asyncio.TimeoutError) as exc:
            await self.close(lookin_id, shown=False)
            await handle.close()
            raise CameraUnavailable(str(exc) or "no picture") from exc

    async def _wait_for_picture(self, viewing: Viewing) -> None:
        # The plugin's info says how long ago the mountpoint last received media (age_ms),
        # counted from its creation while nothing came: a camera sending 15 pictures a second
        # keeps it near zero, a silent one lets it grow with the time since creation.
        created = time.monotonic()
        deadline = created + self.frames_timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            info = await viewing.handle.request({"request": "info", "id": viewing.mount_id, "secret": viewing.secret})
            media = (info.get("info") or {}).get("media") or []
            since_created_ms = (time.monotonic() - created) * 1000
            if any(m.get("age_ms") is not None and m["age_ms"] < min(300, since_created_ms - 150) for m in media):
                return
        raise CameraUnavailable(f"no picture from the camera within {self.frames_timeout:g} s")

    async def _offer(self, handle: SipHandle) -> dict[str, Any]:
        async with asyncio.timeout(10):
            while True:
                for event in await handle.events():
                    if event.kind == "error":
                        raise CameraUnavailable(f"the gateway: {event.data.get('reason')}")
                    if event.jsep and event.jsep.get("type") == "offer":
                        return event.jsep

    async def _keep_alive(self, viewing: Viewing) -> None:
        while not viewing.closed:
            await asyncio.sleep(self.keepalive_seconds)
            try:
                await viewing.handle.keepalive()
            except GatewayError as exc:
                if not viewing.closed:
                    log.warning("camera look-in %s: the gateway's session ended (%s)", viewing.lookin_id, exc)
                    await self.close(viewing.lookin_id)
                return

    async def answer(self, lookin_id: int, jsep: dict[str, Any]) -> None:
        viewing = self._open.get(lookin_id)
        if viewing is None:
            raise CameraUnavailable("not open on this node")
        try:
            await viewing.handle.send({"request": "start"}, {**jsep, "trickle": False})
        except GatewayError as exc:
            await self.close(lookin_id)
            raise CameraUnavailable(str(exc)) from exc

    def _secret(self, lookin_id: int) -> str:
        # Derived from the gateway's API secret: a node restarted in the middle of a look-in
        # can still remove the mountpoint it made (``remove_stale``), and nobody else can.
        return hmac.new(self.gateway.api_secret.encode(), f"lookin:{lookin_id}".encode(), hashlib.sha256).hexdigest()[:32]

    async def remove_stale(self) -> int:
        """Remove the look-ins' mountpoints this node no longer holds (it stopped in the middle
        of one): a camera's packets must not wait in the gateway for nobody. At start."""
        if self.gateway is None:
            return 0
        removed = 0
        try:
            handle = await self.gateway.open_handle(STREAMING_PLUGIN)
        except GatewayError:
            return 0  # no gateway now: nothing of ours is in it either
        try:
            listed = await handle.request({"request": "list", "admin_key": self.gateway.api_secret})
            for mount in listed.get("list") or []:
                lookin_id = int(mount.get("id", 0)) - MOUNT_BASE
                if lookin_id > 0 and lookin_id not in self._open:
                    try:
                        await handle.request({"request": "destroy", "id": MOUNT_BASE + lookin_id,
                                              "secret": self._secret(lookin_id)})
                        removed += 1
                    except GatewayError as exc:
                        log.warning("a stale camera mountpoint %s could not be removed: %s", mount.get("id"), exc)
        except GatewayError as exc:
            log.warning("the gateway's camera mountpoints could not be listed: %s", exc)
        finally:
            await handle.close()
        return removed

    async def close(self, lookin_id: int, *, shown: bool = True) -> float | None:
        """Stop the picture and remove the mountpoint; how many seconds it was open (None: it
        was not open here). ``shown``: a picture was offered (its closing is audited)."""
        viewing = self._open.pop(lookin_id, None)
        if viewing is None or viewing.closed:
            return None
        viewing.closed = True
        for task in (viewing.closer, viewing.poller):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        try:
            await viewing.handle.request({"request": "destroy", "id": viewing.mount_id, "secret": viewing.secret})
        except GatewayError as exc:
            # The session is gone (the gateway timed it out, or restarted): the mountpoint may
            # not be; remove it through a session of its own (the secret is derived).
            log.warning("camera look-in %s: removing the mountpoint again (%s)", lookin_id, exc)
            await self.remove_stale()
        await viewing.handle.close()
        seconds = round(time.monotonic() - viewing.opened, 1)
        if shown and self.on_closed is not None:
            try:
                await self.on_closed(lookin_id, seconds)
            except Exception:  # noqa: BLE001 - the picture is closed; the log says what was not recorded
                log.exception("camera look-in %s closed after %s s; the audit record failed", lookin_id, seconds)
        return seconds

    async def _close_after(self, viewing: Viewing, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
        await self.close(viewing.lookin_id)

    async def stop(self) -> None:
        for lookin_id in list(self._open):
            await self.close(lookin_id)
