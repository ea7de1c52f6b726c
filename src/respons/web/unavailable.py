"""A journal that did not commit (``JournalUnavailable``), answered in one place.

Nothing was stored, so the answer is always 503 and the sender may retry. People get the
error page in their language, as for any database outage (``web/health.py``). Programs get
the one error shape; which ``error`` code depends on the route:

* most routes answer as for any outage: ``database_unavailable`` with the ``reason`` and
  ``Retry-After`` (``health.unavailable_response``);
* the routes that caught the journal's failure themselves before this handler existed keep
  the code, message and headers they have always sent, since clients branch on them
  (vendor platforms retry on ``journal_unavailable``). Such a route declares its answer
  with ``@answers_unavailable(...)``; the answers are listed here, together.

``web/health.install`` puts the handler on the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, TypeVar

from fastapi import Request
from fastapi.responses import Response

from respons.store.journal import JournalUnavailable
from respons.web.errors import error_response

F = TypeVar("F", bound=Callable)

_ATTRIBUTE = "respons_unavailable_answer"


@dataclass(frozen=True)
class UnavailableAnswer:
    """What a route answers when the journal did not commit: ``message`` is formatted with
    the failure (``{failure}``: its reason in words, never the driver's text)."""

    error: str
    message: str
    retry_after: str | None = None

    def response(self, exc: JournalUnavailable) -> Response:
        headers = {"Retry-After": self.retry_after} if self.retry_after else None
        return error_response(503, self.error, self.message.format(failure=exc), headers=headers)


# The intake: a vendor's platform retries the same alarm with the same key.
NOTHING_STORED = UnavailableAnswer("journal_unavailable", "Nothing was stored; retry the same request. ({failure})", "1")
# An operator's action on an alarm.
NOTHING_CHANGED = UnavailableAnswer("journal_unavailable", "Nothing changed; retry. ({failure})", "1")
# Log-in over the API (the session is created in the journal).
LOGIN_NOT_POSSIBLE = UnavailableAnswer("journal_unavailable", "Log-in is not possible right now; retry. ({failure})")
# Registering or changing a deviation report.
DEVIATION_NOT_SAVED = UnavailableAnswer("unavailable", "{failure}")


def answers_unavailable(answer: UnavailableAnswer) -> Callable[[F], F]:
    """Declare ``answer`` as the route's answer to a journal that did not commit; put it
    under the router's decorator."""

    def declare(endpoint: F) -> F:
        setattr(endpoint, _ATTRIBUTE, answer)
        return endpoint

    return declare


def declared_answer(request: Request) -> UnavailableAnswer | None:
    """The answer the matched route declared, or None (the route answers as for any outage)."""
    route = request.scope.get("route")
    return getattr(getattr(route, "endpoint", None), _ATTRIBUTE, None)
