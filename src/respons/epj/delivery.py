"""What an EPJ's answer means for a document, and when to try again. Pure.

A transaction is all or nothing on the server's side, but the answer is read entry by entry
anyway: a server that answers 200 with a refused entry has not stored the document.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

DELIVERED, REFUSED, RETRY = "delivered", "refused", "retry"

FIRST_RETRY = timedelta(seconds=10)
LONGEST_WAIT = timedelta(hours=1)


@dataclass(frozen=True)
class Result:
    verdict: str  # delivered | refused | retry
    status_code: int | None = None
    outcome: dict | None = None  # the server's OperationOutcome, kept for the administrator
    error: str | None = None
    # No endpoint configured (or switched off): the document waits, and the EPJ is not failing.
    unconfigured: bool = False


def classify(status_code: int | None, body: Any, error: str | None = None) -> Result:
    """2xx with every entry 2xx: delivered. 401 (the access token expired or was revoked: a new
    one is fetched), 408, 429, 5xx, a timeout or no connection: try again (the document is the
    same, and a conditional update is safe to repeat). Any other
    4xx: refused, with the server's reasons — trying the same document again would only be
    refused again (docs/epj.md, "Delivery states")."""
    if status_code is None:
        return Result(RETRY, error=error or "no answer")
    outcome = body if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome" else None
    if 200 <= status_code < 300:
        refused = _refused_entry(body)
        if refused is None:
            return Result(DELIVERED, status_code)
        entry_status, entry_outcome = refused
        return Result(REFUSED, status_code, entry_outcome, f"an entry was refused with {entry_status}")
    if status_code in (401, 408, 429) or status_code >= 500:
        return Result(RETRY, status_code, outcome, f"HTTP {status_code}")
    return Result(REFUSED, status_code, outcome, f"HTTP {status_code}")


def _refused_entry(body: Any) -> tuple[str, dict | None] | None:
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        return None
    for entry in body.get("entry") or []:
        response = entry.get("response") or {}
        status = str(response.get("status", ""))
        if not status.startswith("2"):
            return status, response.get("outcome")
    return None


def next_attempt_in(attempts: int) -> timedelta:
    """10 s after the first failure, doubling, at most an hour apart."""
    return min(FIRST_RETRY * 2 ** max(0, attempts - 1), LONGEST_WAIT)
