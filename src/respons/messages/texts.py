"""What an SMS is on the wire, and what a reply says. Pure.

**Encoding** (3GPP TS 23.038): a text whose every character is in the GSM 03.38 default
alphabet or its extension table goes as GSM 7-bit (data_coding 0), else as UCS-2
(data_coding 8). Norwegian letters (æ ø å Æ Ø Å) are in the default alphabet; typographic
quotes and dashes and the Sámi letters are not, and make the whole message UCS-2.

**Splitting** (TS 23.040 §9.2.3.24.1): one SMS holds 160 septets or 70 UCS-2 characters; a
longer text goes as parts of 153 septets or 67 characters, each behind a 6-octet user data
header (IEI 00, 8-bit reference, total, sequence). Extension characters (€ [ ] { } ~ \\ ^ |)
take two septets — an escape and the character — and are never split from their escape; a
character outside the Basic Multilingual Plane takes two UCS-2 units and is never split
either. (The SMPP library's own splitter counts characters, not septets, so a long text with
a € would give an oversized part: Respons splits itself, docs/messages.md.)
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from aiosmpplib.codec import GSM7BitCodec

GSM_DEFAULT = 0  # data_coding: the SMSC default alphabet, GSM 03.38 unpacked (one septet per octet)
UCS2 = 8
SINGLE = {GSM_DEFAULT: 160, UCS2: 140}  # septets, or UCS-2 octets
PART = {GSM_DEFAULT: 153, UCS2: 134}

_GSM = GSM7BitCodec()
# Short codes a person can read back without confusing 0/O or 1/I.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 4


@dataclass(frozen=True)
class Encoded:
    data_coding: int
    parts: tuple[bytes, ...]  # each submit_sm's short_message, the header included when split

    @property
    def split(self) -> bool:
        return len(self.parts) > 1


def data_coding(text: str) -> int:
    return GSM_DEFAULT if GSM7BitCodec.is_gsm_text(text) else UCS2


def _units(text: str, coding: int) -> list[bytes]:
    """The text as indivisible pieces: a septet or an escape pair; a UTF-16 code unit or a pair."""
    if coding == GSM_DEFAULT:
        return [_GSM.encode(ch)[0] for ch in text]
    return [ch.encode("utf-16-be") for ch in text]


def split(text: str) -> tuple[int, list[str]]:
    """(data_coding, the text of each part): one part if it fits, else parts of 153 septets
    or 67 UCS-2 characters, never cutting an escape pair or a surrogate pair."""
    if not text:
        raise ValueError("an SMS needs some text")
    coding = data_coding(text)
    units = _units(text, coding)
    if sum(len(u) for u in units) <= SINGLE[coding]:
        return coding, [text]
    parts: list[str] = []
    size, start = 0, 0
    for i, unit in enumerate(units):
        if size + len(unit) > PART[coding]:
            parts.append(text[start:i])
            size, start = 0, i
        size += len(unit)
    parts.append(text[start:])
    if len(parts) > 255:
        raise ValueError("the text is too long for one concatenated SMS")
    return coding, parts


def encode(text: str, reference: int) -> Encoded:
    """The text as one SMS or as concatenated parts with reference ``reference`` (0–255)."""
    coding, parts = split(text)
    encoded = [b"".join(_units(part, coding)) for part in parts]
    if len(encoded) == 1:
        return Encoded(coding, (encoded[0],))
    ref = reference % 256
    return Encoded(coding, tuple(bytes((5, 0, 3, ref, len(encoded), i + 1)) + chunk for i, chunk in enumerate(encoded)))


def parts_needed(text: str) -> int:
    return len(encode(text, 0).parts)


def new_code() -> str:
    """Four characters with at least one digit, so a reply's words are never taken for a code."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if any(c.isdigit() for c in code):
            return code


# --- replies -------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def printable(text: str) -> str:
    """A person's text as it can be kept and shown: without control characters (PostgreSQL
    stores no NUL, and a screen shows none of them)."""
    return _CONTROL.sub("", text or "")

CONFIRM, DECLINE = "confirm", "decline"
_CONFIRM_WORDS = frozenset({"ok", "okay", "oki", "ja", "j", "jo", "yes", "jepp", "kommer", "drar"})
_DECLINE_WORDS = frozenset({"nei", "n", "no", "nope"})
_WORD = re.compile(r"[0-9a-zæøåA-ZÆØÅ]+")


@dataclass(frozen=True)
class Reply:
    intent: str | None  # confirm | decline | None (something else: kept on the timeline)
    code: str | None  # a message's short code named in the reply ("OK K7Q2")


def read_reply(text: str) -> Reply:
    """What a person means by an SMS reply: its first word decides (``OK``, ``Ja``, ``ok!``,
    ``JA takk`` confirm; ``Nei`` declines), and a short code anywhere names the message."""
    words = _WORD.findall(text or "")
    code = next((w.upper() for w in words if len(w) == CODE_LENGTH and set(w.upper()) <= set(CODE_ALPHABET)
                 and any(c.isdigit() for c in w)), None)
    first = words[0].lower() if words else ""
    intent = CONFIRM if first in _CONFIRM_WORDS else DECLINE if first in _DECLINE_WORDS else None
    return Reply(intent, code)


# --- what next of kin read ----------------------------------------------------------------------


_IF_YOU_GO = "hvis du drar dit."


def kin_request(*, code: str, alarm_label: str, given_name: str, address: str, minutes: int) -> str:
    """The SMS that asks next of kin to go (bokmål: the people it goes to). It starts with
    "Respons <code>:" so a delivery receipt's first 20 characters name the message."""
    return (f"Respons {code}: {alarm_label} hos {given_name}, {address}. Svar OK innen {minutes} min {_IF_YOU_GO} "
            "Ellers tar responssenteret over. Ring 113 ved akutt fare.")


def with_link(body: str, link: str) -> str:
    """The request with its one-time confirmation link (added by the sending node, which
    knows the installation's public address)."""
    # On lines of its own: a phone's link detection would take a trailing full stop along.
    return body.replace(_IF_YOU_GO + " ", f"hvis du drar dit, eller bekreft her:\n{link}\n", 1)
