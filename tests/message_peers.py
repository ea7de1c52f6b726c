"""The message peers the messaging tests send to: a local SMS centre (SMPP 3.4 and an HTTP SMS
API, tools/message-peers/smsc.mjs on node-smpp) and a local Web Push service (web-push-testing),
installed by scripts/ensure-message-peers.sh (src/respons/demo/smsc.py runs them).

When they are not installed the tests skip with a message, except when
RESPONS_REQUIRE_MESSAGES=1 (set where they are installed, as in CI): then they fail.

What the SMS centre accepted, it journals as one record a message (``LocalSmsc.messages()``):

* via SMPP, one record a submit_sm (a part of a long text is a record of its own):
  ``message_id, via="smpp", system_id, source, source_addr_ton, source_addr_npi, destination,
  dest_addr_ton, dest_addr_npi, esm_class, data_coding, registered_delivery, payload
  ("short_message" or "message_payload"), short_message_hex`` (the octets as sent, user data
  header included), ``udh`` ({ref, total, seq} from a concatenation header, else None), ``sar``
  ({ref, total, seq} from the sar_* TLVs, else None), ``text`` (the part's text without the
  header, decoded by data_coding: 0 GSM 03.38 with its extension table, 8 UCS-2, 3 Latin-1,
  1 ASCII; None for binary), ``received_at`` (ISO 8601, UTC);
* via the HTTP API: ``message_id, via="http", source, destination, text`` (the whole text),
  ``reference, parts, callback_url, received_at``.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from respons.demo import smsc as peers

REQUIRE_MESSAGES = os.environ.get("RESPONS_REQUIRE_MESSAGES") == "1"
HTTP_TOKEN = peers.HTTP_TOKEN


def require_message_peers() -> None:
    """Skip the test when the message peers are not installed, or fail it where they must be."""
    if not peers.available():
        problem = "the message peers are not installed (bash scripts/ensure-message-peers.sh)"
        if REQUIRE_MESSAGES:
            pytest.fail(problem + " (RESPONS_REQUIRE_MESSAGES=1)")
        pytest.skip(problem)


def _stop(process: subprocess.Popen | None, how: signal.Signals) -> None:
    if process is not None and process.poll() is None:
        process.send_signal(how)
        process.wait(timeout=10)


class LocalSmsc:
    """One SMS centre process. ``stop``/``kill`` and ``start`` again is an SMSC that was down:
    the messages it acknowledged come back from the journal; receipts it had not yet sent,
    and what the control calls set (throttle, reject, undeliverable), do not."""

    def __init__(self, port: int, control_port: int, journal_path: Path, log_path: Path, *,
                 system_id: str = "respons", password: str = "secret", receipt_delay_ms: int = 200,
                 http_token: str = HTTP_TOKEN):
        self.port, self.control_port = port, control_port
        self.system_id, self.password, self.http_token = system_id, password, http_token
        self._journal_path, self._log_path, self._receipt_delay_ms = journal_path, log_path, receipt_delay_ms
        self.control_url = f"http://127.0.0.1:{control_port}/control"
        self._process: subprocess.Popen | None = None

    @property
    def http_url(self) -> str:
        """The HTTP SMS API: ``POST`` here with ``Authorization: Bearer <http_token>``."""
        return f"http://127.0.0.1:{self.control_port}/sms/v1/messages"

    def start(self, timeout: float = 20.0) -> "LocalSmsc":
        self._process = peers.start(port=self.port, control_port=self.control_port, system_id=self.system_id,
                                    password=self.password, journal=self._journal_path, log_file=self._log_path,
                                    receipt_delay_ms=self._receipt_delay_ms, http_token=self.http_token,
                                    timeout=timeout)
        return self

    def stop(self) -> None:
        _stop(self._process, signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: the SMSC is gone at once, its connections with it."""
        _stop(self._process, signal.SIGKILL)

    def _get(self, path: str) -> dict:
        response = httpx.get(f"{self.control_url}/{path}", timeout=10)
        response.raise_for_status()
        return response.json()

    def _post(self, path: str, body: dict | None = None, timeout: float = 10) -> httpx.Response:
        response = httpx.post(f"{self.control_url}/{path}", json=body or {}, timeout=timeout)
        response.raise_for_status()
        return response

    def messages(self) -> list[dict]:
        """Every message accepted, via SMPP and via HTTP, in the order they came."""
        return self._get("messages")["messages"]

    def reset(self) -> None:
        """Forget the messages (the journal too), waiting receipts and callbacks, and every setting."""
        self._post("reset")

    def throttle(self, n: int) -> None:
        """The next ``n`` submit_sm get ESME_RTHROTTLED (0x58), and HTTP sends 429 with Retry-After: 1."""
        self._post("throttle", {"count": n})

    def reject(self, destination: str, status: int) -> None:
        """Submits to ``destination`` get ``status`` as command_status (HTTP: 400). Destinations
        compare by their digits: "+4791234567" and "4791234567" are the same."""
        self._post("reject", {"destination": destination, "status": status})

    def undeliverable(self, destination: str) -> None:
        """Accepted, but the receipt says UNDELIV (message_state 5); HTTP: the callback says "failed"."""
        self._post("undeliverable", {"destination": destination})

    def mo(self, source: str, destination: str, text: str) -> dict:
        """A person's SMS from ``source`` to ``destination`` as deliver_sm to every bound
        transceiver or receiver: ``{"sessions": n, "statuses": [deliver_sm_resp status or None]}``.
        HTTPStatusError (409) when none is bound."""
        return self._post("mo", {"source": source, "destination": destination, "text": text}, timeout=15).json()

    def http_mo(self, from_: str, to: str, text: str, url: str, token: str | None = None) -> dict:
        """A person's SMS as the HTTP provider posts it: ``{"from","to","text","id","received_at"}``
        to ``url`` with ``Authorization: Bearer <token>``. Returns ``{"status": what url answered,
        "body": its body, "id"}``, or ``{"error", "id"}`` when url could not be reached."""
        response = httpx.post(f"{self.control_url}/http-mo", timeout=15,
                              json={"from": from_, "to": to, "text": text, "url": url, "token": token})
        return response.json()

    def disconnect(self) -> int:
        """Close every SMPP connection now (an SMSC dropping its clients); how many it closed."""
        return self._post("disconnect").json()["closed"]

    def bound(self) -> int:
        """How many SMPP sessions are bound (any mode)."""
        return self._get("sessions")["bound"]


def smsc_or_skip(port: int, control_port: int, journal_path: Path, log_path: Path, **settings) -> LocalSmsc:
    require_message_peers()
    return LocalSmsc(port, control_port, journal_path, log_path, **settings)


def assembled(messages: list[dict]) -> list[dict]:
    """The texts the SMS centre's records make, in the order their first part came: SMPP parts
    joined by (source, destination, reference) in sequence order, from the user data header
    (or the sar_* TLVs); a record without either, and an HTTP record, is a text of its own.
    Each: ``{"source", "destination", "text", "segments", "message_ids", "complete"}``."""
    texts: list[dict] = []
    open_groups: dict[tuple, dict] = {}
    for record in messages:
        concat = record.get("udh") or record.get("sar")
        if record.get("via") != "smpp" or not concat:
            segments = record.get("parts", 1) if record.get("via") == "http" else 1
            texts.append({"source": record.get("source"), "destination": record["destination"],
                          "text": record.get("text"), "segments": segments, "message_ids": [record["message_id"]],
                          "complete": True})
            continue
        key = (record.get("source"), record["destination"], concat["ref"], concat.get("total"))
        group = open_groups.get(key)
        if group is None or concat["seq"] in group["parts"]:  # a reference used again: a new text
            group = {"source": record.get("source"), "destination": record["destination"], "parts": {},
                     "total": concat.get("total")}
            open_groups[key] = group
            texts.append(group)
        group["parts"][concat["seq"]] = record
    result = []
    for text in texts:
        if "parts" not in text:
            result.append(text)
            continue
        ordered = [text["parts"][seq] for seq in sorted(text["parts"])]
        joined = "".join(part.get("text") or "" for part in ordered)
        # A character outside the BMP split between two UCS-2 parts: join its surrogates again.
        joined = joined.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "replace")
        result.append({"source": text["source"], "destination": text["destination"], "text": joined,
                       "segments": len(ordered), "message_ids": [part["message_id"] for part in ordered],
                       "complete": text["total"] is not None and sorted(text["parts"]) == list(range(1, text["total"] + 1))})
    return result


class PushService:
    """web-push-testing (a Push API service, RFC 8030/8291/8292) on ``port``: subscriptions made
    here get endpoints ``http://localhost:<port>/notify/<clientHash>``; a notification sent
    there is checked (VAPID JWT against the subscription's applicationServerKey, encryption,
    TTL header), decrypted and kept; an expired subscription answers 410."""

    def __init__(self, port: int, log_path: Path):
        self.port, self._log_path = port, log_path
        self.base_url = f"http://127.0.0.1:{port}"
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> "PushService":
        self._process = peers.push_service_start(self.port, self._log_path, timeout)
        return self

    def stop(self) -> None:
        _stop(self._process, signal.SIGTERM)

    def _post(self, path: str, body: dict | None = None) -> httpx.Response:
        response = httpx.post(f"{self.base_url}/{path}", json=body, timeout=10)
        if response.status_code >= 400:
            raise RuntimeError(f"web-push-testing {path}: {response.status_code} {response.text}")
        return response

    def subscribe(self, application_server_key_b64url: str) -> dict:
        """A new subscription for the VAPID public key (uncompressed P-256 point, base64url):
        ``{"endpoint", "keys": {"p256dh", "auth"}, "clientHash"}``."""
        return self._post("subscribe", {"userVisibleOnly": "true",  # a string: it refuses a JSON true
                                        "applicationServerKey": application_server_key_b64url}).json()["data"]

    def notifications(self, client_hash: str) -> list[str]:
        """The decrypted payloads the subscription received, oldest first."""
        return self._post("get-notifications", {"clientHash": client_hash}).json()["data"]["messages"]

    def expire(self, client_hash: str) -> None:
        """The subscription is gone: notifications to it get 410 Gone from now on."""
        self._post(f"expire-subscription/{client_hash}")


def push_service_or_skip(port: int, log_path: Path) -> PushService:
    require_message_peers()
    return PushService(port, log_path)
