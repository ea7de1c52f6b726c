"""Running a person's action on an alarm: one way for the API, the console and the app.

Every surface runs an action the same way: one unit of work through the journal, and the
alarm services refuse it with ``AlarmNotFound`` (outside the caller's reach: 404) or
``IllegalTransition`` (not in the alarm's state, or a colleague holds it: 409, with the
reason). A journal that did not commit is not caught here: the app's handler answers it
(web/unavailable.py). What each surface shows for the outcome differs on purpose, so each
keeps its own: JSON with a stable code for programs, the console's work section in the
operator's language, the responder app's alarm with who took it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy.engine import Connection

from respons.domain.lifecycle import IllegalTransition
from respons.engine.alarms import AlarmNotFound
from respons.store.journal import Journal


@dataclass(frozen=True)
class ActionOutcome:
    result: Any = None  # what the unit returned, when it was done
    not_found: AlarmNotFound | None = None
    refused: IllegalTransition | None = None

    @property
    def done(self) -> bool:
        return self.not_found is None and self.refused is None


async def run_action(journal: Journal, work: Callable[[Connection], Any]) -> ActionOutcome:
    """Run ``work`` through the journal; an alarm service's refusal is returned, not raised."""
    try:
        return ActionOutcome(result=await journal.run(work))
    except AlarmNotFound as exc:
        return ActionOutcome(not_found=exc)
    except IllegalTransition as exc:
        return ActionOutcome(refused=exc)
