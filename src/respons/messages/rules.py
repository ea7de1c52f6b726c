"""A message's life and what a provider's answer means for it. Pure.

queued → sending (claimed by a node's worker and handed to the provider) → sent (the
provider took it) → delivered (the handset or the phone's service worker has it). It may
end as failed (refused for good, or the receipt says so) or expired (not sent before
``expires_at``: an alarm's message hours late would do harm, so it is never sent late).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

QUEUED, SENDING, SENT, DELIVERED, FAILED, EXPIRED = "queued", "sending", "sent", "delivered", "failed", "expired"
OPEN = (QUEUED, SENDING)  # the worker still has something to do
FINAL = (DELIVERED, FAILED, EXPIRED)
SMS, PUSH = "sms", "push"
KIN_REQUEST, OFFER = "kin_request", "offer"

FIRST_RETRY = timedelta(seconds=2)
LONGEST_WAIT = timedelta(seconds=60)


def next_attempt_in(attempts: int) -> timedelta:
    """2 s after the first failure, doubling, at most a minute apart: an SMSC back after an
    outage gets the backlog within a minute, and no faster than it can answer."""
    return min(FIRST_RETRY * 2 ** max(0, attempts - 1), LONGEST_WAIT)


SENT_OK, RETRY, REFUSED = "sent", "retry", "refused"


@dataclass(frozen=True)
class Result:
    """A provider's answer to one send."""

    verdict: str  # sent | retry | refused
    refs: tuple[str, ...] = ()  # the provider's id(s) for what it took
    error: str | None = None
    gone: bool = False  # push: the subscription no longer exists (404/410)
    # Try again after this long instead of backing off: nothing was sent, and the message is
    # not the cause (the SMSC is not connected yet).
    again_in: timedelta | None = None
    # The provider may have taken it after all (its answer never came): before it is sent
    # again, its receipts are looked for (store.recover_interrupted).
    uncertain: bool = False


# SMPP 3.4 §5.1.3 command_status values worth trying again: the SMSC is busy or its queue
# full, or a temporary system fault. Anything else (a bad destination, a refused source) is
# refused for good: sending the same again would be refused again.
_SMPP_TRANSIENT = {0x08: "ESME_RSYSERR", 0x14: "ESME_RMSGQFUL", 0x45: "ESME_RSUBMITFAIL",
                   0x58: "ESME_RTHROTTLED", 0x64: "ESME_RX_T_APPN", 0x65: "ESME_RX_P_APPN"}


def smpp_verdict(command_status: int) -> str:
    if command_status == 0:
        return SENT_OK
    return RETRY if command_status in _SMPP_TRANSIENT else REFUSED


def http_verdict(status_code: int | None) -> str:
    """An HTTP SMS API's or a push service's answer: 2xx taken; 408, 429, 5xx or no answer
    again; any other 4xx refused."""
    if status_code is None:
        return RETRY
    if 200 <= status_code < 300:
        return SENT_OK
    if status_code in (408, 425, 429) or status_code >= 500:
        return RETRY
    return REFUSED


# Delivery receipts (SMPP 3.4 Appendix B "stat"; HTTP APIs' status words).
_RECEIPT = {"DELIVRD": DELIVERED, "DELIVERED": DELIVERED, "EXPIRED": EXPIRED, "UNDELIV": FAILED,
            "UNDELIVERABLE": FAILED, "REJECTD": FAILED, "REJECTED": FAILED, "DELETED": FAILED, "FAILED": FAILED}


def receipt_state(stat: str) -> str | None:
    """The final state a receipt reports, or None for one on the way (ENROUTE, ACCEPTD)."""
    return _RECEIPT.get((stat or "").strip().upper())


def combined(by_part: dict[int, set[str]], parts: int) -> str | None:
    """A split SMS's state from its parts' receipts (a part sent twice has two): delivered when
    every part was delivered at least once; failed or expired when a part has only such
    receipts (the person cannot read half a request); None while receipts are missing."""
    if parts and all(DELIVERED in by_part.get(n, ()) for n in range(1, parts + 1)):
        return DELIVERED
    for states in by_part.values():
        if states and DELIVERED not in states:
            return FAILED if FAILED in states else EXPIRED if EXPIRED in states else None
    return None


def allowed(phone: str, allow_list: tuple[str, ...] | None) -> bool:
    """May this installation send to ``phone``? Without a list, yes; with one, only numbers
    that start with one of its entries (a test installation's own phones)."""
    return allow_list is None or any(phone.startswith(prefix) for prefix in allow_list)
