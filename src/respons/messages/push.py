"""Web Push (RFC 8030, payload encrypted per RFC 8291, the sender named by VAPID, RFC 8292)
to the responder app's service worker, with ``pywebpush`` (docs/messages.md, "Web Push").

The payload says what the lock screen may show: the alarm's type and zone, and where the
app opens. The push service can read none of it (the payload is encrypted for the phone).
"""

from __future__ import annotations

import asyncio
import base64
import json
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pywebpush import WebPushException, webpush

from respons.messages import rules

# Where phones' browsers have their push services (Chrome, Firefox, Edge, Safari). A
# subscription elsewhere is refused: Respons would otherwise POST to any address a logged-in
# user names (RESPONS_PUSH_SERVICES adds hosts, e.g. a local push service in tests).
PUBLIC_PUSH_SERVICES = ("fcm.googleapis.com", "updates.push.services.mozilla.com", ".notify.windows.com",
                        ".push.apple.com")


def new_keys() -> tuple[str, str]:
    """(private, public): a VAPID key pair as base64url, the private key as its raw 32 bytes
    (what RESPONS_VAPID_PRIVATE_KEY holds), the public as the uncompressed point the browser
    wants as applicationServerKey."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return _b64(private), public_key_of(_b64(private))


def public_key_of(private_b64: str) -> str:
    value = int.from_bytes(_unb64(private_b64), "big")
    key = ec.derive_private_key(value, ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return _b64(point)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def service_allowed(endpoint: str, extra_hosts: tuple[str, ...]) -> bool:
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https":
        return any(host == h or (h.startswith(".") and host.endswith(h)) for h in PUBLIC_PUSH_SERVICES + extra_hosts)
    # Plain http only to a host the installation names (a local push service in tests).
    return parts.scheme == "http" and host in extra_hosts


class WebPush:
    name = "webpush"

    def __init__(self, *, private_key: str, subject: str, timeout_seconds: float = 10.0):
        self._private_key = private_key
        self.public_key = public_key_of(private_key)
        self._subject = subject
        self._timeout = timeout_seconds

    async def send(self, uid: str, subscription: dict | None, text: str, alarm_id: str | None,
                   ttl_seconds: int) -> rules.Result:
        if subscription is None:
            return rules.Result(rules.REFUSED, error="the phone's push subscription is gone", gone=True)
        # In bokmål, the app's default: a service worker woken by a push knows no user.
        payload = json.dumps({"title": "Respons: ny alarm", "body": text,
                              "url": f"/app/alarms/{alarm_id}" if alarm_id else "/app", "uid": uid,
                              "tag": alarm_id or uid})
        return await asyncio.to_thread(self._send, subscription, payload, ttl_seconds)

    def _send(self, subscription: dict, payload: str, ttl_seconds: int) -> rules.Result:
        try:
            response = webpush(subscription, payload, vapid_private_key=self._private_key,
                               vapid_claims={"sub": self._subject}, ttl=max(0, ttl_seconds), timeout=self._timeout,
                               # Some push services refuse the default form content type.
                               headers={"Urgency": "high", "Content-Type": "application/octet-stream"})
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else None
            gone = status in (404, 410)
            verdict = rules.REFUSED if gone else rules.http_verdict(status)
            return rules.Result(verdict, error=f"push service answered {status}: {str(exc)[:200]}", gone=gone)
        except Exception as exc:  # noqa: BLE001 - no connection, a timeout: tried again
            return rules.Result(rules.RETRY, error=f"{type(exc).__name__}: {exc}"[:300])
        ref = response.headers.get("Location") or response.headers.get("location") or ""
        return rules.Result(rules.SENT_OK, (ref[-100:],) if ref else ())
