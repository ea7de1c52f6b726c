"""Respons's side of the gateway's HTTP API (Janus, https://janus.conf.meetecho.com/docs/rest):
one session and one plugin handle per call (SIP plugin) or camera look-in (streaming plugin,
digital_supervision/camera.py), events by long poll.

Respons does the signalling itself so that the browser never holds a gateway credential and
can never ask it to call anything: the operator's browser sends its WebRTC offer or answer to
Respons, and Respons asks the gateway to call the number it chose for the alarm.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx

SIP_PLUGIN = "janus.plugin.sip"
STREAMING_PLUGIN = "janus.plugin.streaming"
LONG_POLL_SECONDS = 30  # fixed by the gateway


class GatewayError(Exception):
    """The gateway refused a request or could not be reached."""


class SessionGone(GatewayError):
    """The gateway no longer knows the session: it restarted, or timed the session out."""


@dataclass(frozen=True)
class GatewayEvent:
    """What the gateway said, reduced to what a call needs.

    ``kind``: for the SIP plugin's events its ``result.event`` (calling, ringing, progress,
    accepted, hangup, incomingcall, registered, registration_failed, …); for the gateway's own
    events their ``janus`` (webrtcup, media, hangup → ``webrtc_hangup``, detached, timeout).
    """

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    jsep: dict[str, Any] | None = None


def parse_event(message: dict[str, Any]) -> GatewayEvent | None:
    kind = message.get("janus")
    if kind == "event":
        data = ((message.get("plugindata") or {}).get("data")) or {}
        if "error" in data:
            return GatewayEvent("error", {"code": data.get("error_code"), "reason": data.get("error")})
        result = data.get("result") or {}
        # The streaming plugin says {"streaming": "event", "result": {"status": "preparing"}}.
        kind = result.get("event") or result.get("status") or "unknown"
        return GatewayEvent(str(kind), result, message.get("jsep"))
    if kind == "hangup":
        return GatewayEvent("webrtc_hangup", {"reason": message.get("reason")})
    if kind in ("webrtcup", "media", "detached", "timeout", "slowlink"):
        return GatewayEvent(kind, {k: v for k, v in message.items() if k not in ("janus", "session_id", "sender")})
    return None  # keepalive, ack, trickle


class Gateway:
    """The gateway's HTTP API at ``url``, with the API secret (never given to a browser)."""

    def __init__(self, url: str, api_secret: str, *, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.api_secret = api_secret
        self.timeout = timeout
        self._shared: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        """One client (and its connection pool) for every call of this node: a new client per
        request costs more CPU than the request (bench/voice_calls.py). Each call's long poll
        holds one connection while it waits."""
        if self._shared is None:
            self._shared = httpx.AsyncClient(timeout=self.timeout, trust_env=False,
                                             limits=httpx.Limits(max_connections=500, max_keepalive_connections=50))
        return self._shared

    async def close(self) -> None:
        if self._shared is not None:
            await self._shared.aclose()
            self._shared = None

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": secrets.token_hex(8), "apisecret": self.api_secret}
        try:
            response = await self.client.post(self.url + path, json=body)
        except httpx.HTTPError as e:
            raise GatewayError(f"the gateway at {self.url} cannot be reached: {e}") from e
        answer = response.json()
        if answer.get("janus") == "error":
            error = answer.get("error") or {}
            # 458: no such session (the gateway restarted, or timed the session out).
            raise (SessionGone if error.get("code") == 458 else GatewayError)(
                f"the gateway refused {body.get('janus')}: {error.get('code')} {error.get('reason')}")
        return answer

    async def info(self) -> dict[str, Any]:
        """The gateway's server info (its version and plugins): the readiness check."""
        try:
            response = await self.client.get(self.url + "/info", timeout=2.0)
            return response.json()
        except (httpx.HTTPError, ValueError) as e:
            raise GatewayError(f"the gateway at {self.url} does not answer: {e}") from e

    async def open_sip(self) -> "SipHandle":
        return await self.open_handle(SIP_PLUGIN)

    async def open_handle(self, plugin: str) -> "SipHandle":
        session = (await self._post("", {"janus": "create"}))["data"]["id"]
        handle = (await self._post(f"/{session}", {"janus": "attach", "plugin": plugin}))["data"]["id"]
        return SipHandle(self, session, handle)


@dataclass
class SipHandle:
    """One gateway session with one plugin handle: one call, or one camera look-in."""

    gateway: Gateway
    session: int
    handle: int

    async def send(self, body: dict[str, Any], jsep: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            message["jsep"] = jsep
        await self.gateway._post(f"/{self.session}/{self.handle}", message)

    async def keepalive(self) -> None:
        """Tell the gateway the session is still wanted (it drops one silent for its timeout)."""
        await self.gateway._post(f"/{self.session}", {"janus": "keepalive"})

    async def request(self, body: dict[str, Any]) -> dict[str, Any]:
        """A plugin request the plugin answers at once (the streaming plugin's create, info,
        destroy): its answer, or GatewayError with the plugin's reason."""
        answer = await self.gateway._post(f"/{self.session}/{self.handle}", {"janus": "message", "body": body})
        data = ((answer.get("plugindata") or {}).get("data")) or {}
        if "error" in data:
            raise GatewayError(f"the gateway refused {body.get('request')}: {data.get('error_code')} {data.get('error')}")
        return data

    async def events(self) -> list[GatewayEvent]:
        """The session's next events (a long poll; the gateway answers a keep-alive after 30 s
        without events, which also keeps the session alive). Callers that also wait for
        something else run it as a task."""
        params = {"maxev": 10, "apisecret": self.gateway.api_secret, "rid": secrets.token_hex(4)}
        try:
            response = await self.gateway.client.get(f"{self.gateway.url}/{self.session}", params=params,
                                                     timeout=LONG_POLL_SECONDS + 10)
        except httpx.HTTPError as e:
            raise GatewayError(f"the gateway at {self.gateway.url} cannot be reached: {e}") from e
        answer = response.json()
        messages = answer if isinstance(answer, list) else [answer]
        events = []
        for message in messages:
            if message.get("janus") == "error":
                error = message.get("error") or {}
                raise (SessionGone if error.get("code") == 458 else GatewayError)(
                    f"the gateway: {error.get('code')} {error.get('reason')}")
            event = parse_event(message)
            if event is not None:
                events.append(event)
        return events

    async def close(self) -> None:
        try:
            await self.gateway._post(f"/{self.session}", {"janus": "destroy"})
        except GatewayError:
            pass  # gone already: the gateway ends its calls with the session
