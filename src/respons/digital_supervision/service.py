"""Supervision plans for the registry: a municipality administrator records the municipality's
decision for one of its people; checked by plans.py, stored, audited (docs/supervision.md).

Answers in bokmål, as the registry's API does; refusals name each field, like the registry's.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy.engine import Connection

from respons.auth import audit
from respons.clock import OSLO
from respons.digital_supervision import lookins, store
from respons.digital_supervision.plans import AgreedTime, Fallback, Kind, Plan, Problem, check, end_problems
from respons.digital_supervision import words  # noqa: F401  (registers the refusals' words)
from respons.registry.service import ADMINISTRATION, Invalid, NotFound, Problem as FieldProblem, recipient_municipality
from respons.web import i18n

# Which field each refusal is about; its words are in words.py (the API answers the bokmål).
_FIELDS = {"kind": "kind", "time": "times", "no_times": "times", "max_seconds": "max_seconds",
           "valid_period": "valid_to", "end_in_past": "valid_to", "end_later": "valid_to", "consent_missing": "consent_by", "consent_after_start": "consent_on",
           "checklist": "checklist", "weekdays": "times", "times_collide": "times", "fallback": "fallback"}
_BOKMAL = i18n.translator("nb")


def _refused(problems: list[Problem]) -> Invalid:
    items, named = [], []
    for problem in problems:
        field_name, key = _FIELDS[problem.code], f"supervision.{problem.code}"
        text = _BOKMAL(key, **problem.params)
        items.append({"field": field_name, "problem": text})
        named.append(FieldProblem(field_name, text, key, problem.params))
    return Invalid(items, named)


def _parse(values: dict[str, Any]) -> tuple[Plan | None, list[Problem]]:
    problems = []
    try:
        kind = Kind(values.get("kind"))
    except ValueError:
        kind = None
        problems.append(Problem("kind"))
    times = []
    for agreed in values.get("times") or []:
        try:
            at = time.fromisoformat(agreed["at"])
        except (TypeError, ValueError, KeyError):
            problems.append(Problem("time", {"at": str((agreed or {}).get("at", ""))[:10]}))
            continue
        # Every day only when no days were given: an empty list is a mistake to refuse, not
        # nightly look-ins nobody decided.
        weekdays = agreed.get("weekdays")
        times.append(AgreedTime(at.replace(second=0, microsecond=0),
                                frozenset(range(1, 8) if weekdays is None else weekdays)))
    try:
        fallback = Fallback(values.get("fallback") or Fallback.PHONE.value)
    except ValueError:
        problems.append(Problem("fallback"))
    if kind is None or problems:
        return None, problems
    return Plan(kind=kind, times=tuple(times), max_seconds=values["max_seconds"],
                consent_by=values.get("consent_by") or "", consent_on=values["consent_on"],
                valid_from=values["valid_from"], valid_to=values.get("valid_to"),
                event_based=bool(values.get("event_based")), checklist=tuple(values.get("checklist") or ()),
                instructions=values.get("instructions") or "", fallback=fallback), []


def add_plan(conn: Connection, recipient_id: int, values: dict[str, Any], *, allowed: frozenset[int] | None,
             now: datetime, actor: str) -> int:
    """Record a plan for a person in the caller's registry scope (NotFound outside it);
    Invalid with every reason when the plan cannot be followed."""
    municipality_id = recipient_municipality(conn, recipient_id, allowed)
    plan, problems = _parse(values)
    problems = problems or check(plan)
    if problems:
        raise _refused(problems)
    plan_id = store.add(conn, municipality_id=municipality_id, recipient_id=recipient_id, plan=plan, now=now,
                        actor=actor)
    audit.append(conn, now=now, actor=actor, action=audit.CREATE, municipality_id=municipality_id,
                 recipient_id=recipient_id, purpose=ADMINISTRATION,
                 details={"entity": "supervision_plan", "supervision_plan_id": plan_id, "kind": plan.kind.value,
                          "times": len(plan.times), "event_based": plan.event_based})
    return plan_id


def end_plan(conn: Connection, recipient_id: int, plan_id: int, valid_to: date, *, allowed: frozenset[int] | None,
             today: date, now: datetime, actor: str) -> None:
    """End a person's plan on ``valid_to`` (the last day it applies); audited. NotFound for a
    plan of another person or outside the caller's scope; Invalid when it cannot end then."""
    municipality_id = recipient_municipality(conn, recipient_id, allowed)
    row = store.get(conn, plan_id)
    if row is None or row["recipient_id"] != recipient_id:
        raise NotFound("supervision_plan")
    problems = end_problems(store.plan_of(row), valid_to, today=today)
    if problems:
        raise _refused(problems)
    # Ended today, consent is withdrawn: from this moment no look-in of the plan starts, also
    # one whose window is open now or one after an alarm, and a picture being watched ends — a
    # camera must not open tonight on a withdrawn consent. Ended later: the look-ins already
    # scheduled past the last day will not be done.
    withdrawn = valid_to == today
    if not store.end(conn, plan_id, valid_to, withdrawn_at=now if withdrawn else None):
        # Another administrator ended it earlier meanwhile: an ended plan is not lengthened.
        raise _refused(end_problems(store.plan_of(store.get(conn, plan_id)), valid_to, today=today))
    if withdrawn:
        lookins.consent_withdrawn(conn, plan_id, now)
    else:
        day_after = datetime.combine(valid_to + timedelta(days=1), time(0), tzinfo=OSLO).astimezone(timezone.utc)
        lookins.plan_ended(conn, plan_id, day_after)
    audit.append(conn, now=now, actor=actor, action=audit.UPDATE, municipality_id=municipality_id,
                 recipient_id=recipient_id, purpose=ADMINISTRATION,
                 details={"entity": "supervision_plan", "supervision_plan_id": plan_id, "fields": ["valid_to"]}
                 | ({"withdrawn": True} if withdrawn else {}))


def read_plans(conn: Connection, recipient_id: int, *, allowed: frozenset[int] | None, now: datetime,
               actor: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The person's plans and their latest look-ins that happened or should have (the
    supervision timeline): consent, instructions and outcomes are part of the person's record,
    so the read is audited, as the registry's record is, before it is returned (a unit of work)."""
    municipality_id = recipient_municipality(conn, recipient_id, allowed)
    audit.append(conn, now=now, actor=actor, action=audit.READ_RECIPIENT, municipality_id=municipality_id,
                 recipient_id=recipient_id, purpose=ADMINISTRATION, details={"entity": "supervision_plans"})
    return [_shown(row) for row in store.of_recipient(conn, recipient_id)], store.of_person(conn, recipient_id)


def history(conn: Connection, recipient_id: int, *, allowed: frozenset[int] | None) -> list[dict[str, Any]]:
    """The person's latest look-ins, for a screen that has audited its read of the person
    already (the console's alarm card)."""
    recipient_municipality(conn, recipient_id, allowed)
    return store.of_person(conn, recipient_id)


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    def day(value: date | None) -> str | None:
        return value.isoformat() if value else None
    return {"id": row["id"], "kind": row["kind"], "times": row["times"], "max_seconds": row["max_seconds"],
            "event_based": row["event_based"], "checklist": row["checklist"], "instructions": row["instructions"],
            "fallback": row["fallback"], "consent_by": row["consent_by"], "consent_on": day(row["consent_on"]),
            "valid_from": day(row["valid_from"]), "valid_to": day(row["valid_to"]),
            "withdrawn_at": row["withdrawn_at"].isoformat() if row["withdrawn_at"] else None}
