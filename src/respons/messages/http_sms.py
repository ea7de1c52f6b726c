"""SMS through an HTTP SMS API of the usual shape (docs/messages.md, "HTTP SMS API"): one POST
per message with a bearer token, the client's own reference for idempotency, and callbacks
for delivery receipts and replies. A municipality whose aggregator speaks another dialect
writes a provider like this one (about fifty lines) or puts a small adapter in front.

    POST {url}   Authorization: Bearer <token>
    {"to": "+4791234567", "from": "2222", "text": "…", "reference": "<Respons's message uid>",
     "callback_url": "<public>/api/v1/messages/receipts", "callback_token": "<secret>"}
    → 2xx {"id": "<provider's id>", "parts": 2}

The same reference sent again (Respons retries when an answer is lost) is the same message
at the provider: that is what makes a retry safe. 2xx: taken; 408, 429, 5xx or no answer:
tried again; any other 4xx: refused for good (messages/rules.http_verdict).
"""

from __future__ import annotations

import httpx

from respons.messages import rules


class HttpSmsProvider:
    name = "http"

    def __init__(self, *, url: str, token: str, sender: str, callback_url: str | None, callback_token: str | None,
                 timeout_seconds: float = 10.0):
        self._url, self._token, self._sender = url, token, sender
        self._callback_url, self._callback_token = callback_url, callback_token
        self._client = httpx.AsyncClient(timeout=timeout_seconds)

    bound = True  # nothing to connect to ahead of a send
    # A send whose answer was lost is recognised by the provider from its reference: no need to
    # wait for receipts before sending it again.
    receipts_settled = True

    async def start(self, **_callbacks) -> None:
        return None  # receipts and replies come to the API (messages/api.py)

    async def stop(self) -> None:
        await self._client.aclose()

    async def send(self, uid: str, to: str, body: str, reference: int, attempt: int = 0) -> rules.Result:
        payload = {"to": to, "from": self._sender, "text": body, "reference": uid}
        if self._callback_url:
            payload["callback_url"] = self._callback_url
            if self._callback_token:
                payload["callback_token"] = self._callback_token
        try:
            response = await self._client.post(self._url, json=payload, headers={"Authorization": f"Bearer {self._token}"})
        except httpx.HTTPError as exc:
            return rules.Result(rules.RETRY, error=f"{type(exc).__name__}: {exc}"[:300])
        verdict = rules.http_verdict(response.status_code)
        if verdict != rules.SENT_OK:
            return rules.Result(verdict, error=f"HTTP {response.status_code}: {response.text[:200]}")
        try:
            ref = str(response.json()["id"])
        except (ValueError, KeyError, TypeError):
            return rules.Result(rules.RETRY, error="the provider's answer has no message id")
        return rules.Result(rules.SENT_OK, (ref,))
