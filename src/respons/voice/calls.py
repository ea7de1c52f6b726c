"""The rules of a call, pure: who may be called for an alarm, what the gateway's answers mean,
and what each call leaves on the alarm's timeline (docs/voice.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Direction(StrEnum):
    OUTBOUND = "outbound"  # "Ring opp": the centre calls
    INBOUND = "inbound"  # the unit (or anyone) calls the centre


class State(StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"  # answered, then hung up by either side
    FAILED = "failed"  # never answered: busy, no answer, rejected, unreachable
    LOST = "lost"  # answered, then the gateway or the line went away


FINAL = frozenset({State.ENDED, State.FAILED, State.LOST})


class Failure(StrEnum):
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"  # no such number, or the gateway/trunk did not get through
    CANCELLED = "cancelled"  # the operator hung up before it was answered
    GATEWAY = "gateway"  # the gateway is down or refused the call


class TargetKind(StrEnum):
    UNIT = "unit"  # the alarm unit's loudspeaker (auto-answers the centre)
    PERSON = "person"  # the person's own phone
    CONTACT = "contact"  # a next of kin or other contact


@dataclass(frozen=True)
class Target:
    """Someone the operator may call for this alarm. ``key`` is all the browser sends back:
    the address is looked up again on the server, so no browser can make the gateway call
    anything else (no open relay)."""

    key: str
    kind: TargetKind
    label: str  # who, for the button: "Alarmenhet", the contact's name
    address: str  # a SIP URI, or a phone number (E.164) that needs the trunk
    callable: bool  # False: a phone number with no trunk configured (call by hand)

    @property
    def phone(self) -> str | None:
        return None if self.address.startswith("sip:") else self.address


def targets(*, unit_uri: str | None, person_phone: str | None, contacts: list[tuple[int, str, str]],
            trunk: str | None) -> list[Target]:
    """What may be called for an alarm, unit first. ``contacts``: (id, name, phone) in priority order."""
    found = []
    if unit_uri:
        found.append(Target("unit", TargetKind.UNIT, "unit", unit_uri, True))
    if person_phone:
        found.append(Target("person", TargetKind.PERSON, "person", person_phone, trunk is not None))
    for contact_id, name, phone in contacts:
        found.append(Target(f"contact:{contact_id}", TargetKind.CONTACT, name, phone, trunk is not None))
    return found


def sip_uri(target: Target, trunk: str | None) -> str:
    """The address the gateway dials: a unit's own URI, or the number at the trunk."""
    if target.address.startswith("sip:"):
        return target.address
    if trunk is None:
        raise ValueError("a phone number needs a SIP trunk (RESPONS_VOICE_TRUNK)")
    return f"sip:{target.address}@{trunk}"


def failure_for(sip_code: int | None, *, timed_out: bool = False, cancelled: bool = False) -> Failure:
    """What an unanswered call's final SIP response means to the operator (RFC 3261 §21).

    Our own CANCEL ends the INVITE with 487: that is "no answer" when the ring time ran out,
    "cancelled" when the operator hung up."""
    if timed_out:
        return Failure.NO_ANSWER
    if cancelled:
        return Failure.CANCELLED
    if sip_code in (486, 600):
        return Failure.BUSY
    if sip_code in (408, 480, 487):
        return Failure.NO_ANSWER
    if sip_code in (403, 603):
        return Failure.REJECTED
    return Failure.UNREACHABLE


def talk_seconds(answered_at: datetime | None, ended_at: datetime | None) -> int | None:
    if answered_at is None or ended_at is None:
        return None
    return max(0, round((ended_at - answered_at).total_seconds()))


# --- transfer ----------------------------------------------------------------------------
#
# The operator hands a call with the unit to a colleague ("Sett over"): the gateway asks the
# unit, with SIP REFER (RFC 3515), to call the centre again at an address that names the call;
# that call rings at the colleague alone, and when the colleague answers, the first call ends.
# Only a party that can reach the centre's SIP address directly can follow: a unit (or an
# unknown SIP caller), never a phone behind the trunk (docs/voice.md, "Transfer").

TRANSFER_USER_PREFIX = "xfer-"
TRANSFERABLE = frozenset({TargetKind.UNIT.value, "unknown"})


def transfer_user(call_id: str) -> str:
    """The user part of the address the unit is asked to call: it names the call handed over."""
    return TRANSFER_USER_PREFIX + call_id


def transferred_call(request_user: str | None) -> str | None:
    """The call a transferred INVITE comes from, by the user part of its Request-URI."""
    if request_user and request_user.startswith(TRANSFER_USER_PREFIX):
        return request_user[len(TRANSFER_USER_PREFIX):][:36] or None
    return None


def transfer_refused(sipfrag: str | None) -> int | None:
    """The status of the unit's new call, from a REFER NOTIFY's ``message/sipfrag`` body
    (RFC 3515 §2.4.5), when it says the transfer failed (4xx-6xx); None otherwise.

    A 3xx is no failure here: the centre answers the unit's new call with 302 to the
    colleague's gateway session, and the unit follows it."""
    parts = (sipfrag or "").split()
    if len(parts) >= 2 and parts[0].startswith("SIP/") and parts[1].isdigit():
        code = int(parts[1])
        return code if code >= 400 else None
    return None
