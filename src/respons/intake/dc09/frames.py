"""DC-09 frames: splitting a byte stream, parsing one frame, and building the answers.

A frame is ``LF crc(4 hex) 0LLL "id" seq [Rrcvr] Lpref #acct [data] [x-data…] [_timestamp] CR``.
``crc`` and ``LLL`` (length, 3 hex after a literal ``0``) cover the *message*: from the
opening quote of the id token through the timestamp. The timestamp is
``_HH:MM:SS,MM-DD-YYYY`` in UTC.

``ACK`` and ``DUH`` echo the sequence number, receiver, prefix and account. A ``NAK`` has
one fixed form with the receiver's own time, so a device with a wrong clock can correct it
(``answer`` says where the standard writes them).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import NamedTuple

from respons.intake.dc09 import crypto
from respons.intake.dc09.crc import crc16_arc

LF, CR = 0x0A, 0x0D
MAX_FRAME = 2048  # bytes between LF and CR; a longer run is noise and is dropped
TIMESTAMP_FORMAT = "%H:%M:%S,%m-%d-%Y"
DEFAULT_WINDOW = (timedelta(seconds=-40), timedelta(seconds=20))  # DC-09: −40 s / +20 s


class Answer(StrEnum):
    ACK = "ACK"
    NAK = "NAK"  # the frame was damaged or stale: send it again (with a corrected clock)
    DUH = "DUH"  # understood as a frame, but not what it says: do not resend as is


class FrameSplitter:
    """Cut a TCP byte stream into frames. Copes with several frames in one read and one
    frame split across reads; bytes outside LF…CR are skipped and counted."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.skipped = 0

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames = []
        while True:
            start = self._buffer.find(LF)
            if start < 0:
                self.skipped += len(self._buffer)
                self._buffer.clear()
                return frames
            if start:
                self.skipped += start
                del self._buffer[:start]
            end = self._buffer.find(CR)
            if end < 0:
                if len(self._buffer) > MAX_FRAME:
                    self.skipped += len(self._buffer)
                    self._buffer.clear()
                return frames
            frames.append(bytes(self._buffer[: end + 1]))
            del self._buffer[: end + 1]


_HEADER = re.compile(
    rb'^\n(?P<crc>[0-9A-Fa-f]{4})0(?P<length>[0-9A-Fa-f]{3})(?P<message>".*)\r$', re.S
)
_ENVELOPE = re.compile(
    r'^"(?P<star>\*)?(?P<token>[A-Z0-9-]{1,12})"(?P<seq>\d{4})(?:R(?P<receiver>[0-9A-Fa-f]{1,6}))?'
    r"L(?P<prefix>[0-9A-Fa-f]{1,6})#(?P<account>[0-9A-Fa-f]{3,16})\[(?P<rest>[^\r]*)$",
    re.S,
)
# What follows the "[" of a clear frame, or of a decrypted one.
_CONTENT = re.compile(r"^(?P<data>[^\[\]]*)\](?P<xdata>(?:\[[^\[\]]*\])*)(?:_(?P<timestamp>[^\r]*))?$", re.S)
_ENCRYPTED = re.compile(r"^[0-9A-Fa-f]+$")
_XDATA = re.compile(r"\[([^\[\]]*)\]")


# Envelope and Frame are NamedTuples rather than frozen dataclasses: as immutable, and built
# for every frame (tens of thousands a second in a storm) in a fifth of the time.
class Envelope(NamedTuple):
    """A frame whose CRC and length are right, read as far as it can be without a key."""

    token: str
    encrypted: bool
    sequence: str
    receiver: str | None
    prefix: str
    account: str
    rest: str  # after the "[": clear content, or the ciphertext's hex


class Frame(NamedTuple):
    token: str  # SIA-DCS, ADM-CID, NULL, …
    encrypted: bool
    sequence: str
    receiver: str | None
    prefix: str
    account: str
    data: str
    xdata: tuple[str, ...] = ()
    timestamp: datetime | None = None


@dataclass(frozen=True)
class Refusal:
    """What to answer instead of ACK, and why (for the log and the quarantine)."""

    answer: Answer
    reason: str
    frame: Frame | None = None  # when the frame got far enough to echo its fields


def read(raw: bytes) -> Envelope | Refusal:
    """Check CRC and length and read the clear header fields. Never raises."""
    header = _HEADER.match(raw)
    if header is None:
        return Refusal(Answer.NAK, "not a DC-09 frame (LF crc 0LLL \"…\" CR)")
    message = header["message"]
    if int(header["length"], 16) != len(message):
        return Refusal(Answer.NAK, f"length {int(header['length'], 16)} does not match the message's {len(message)} bytes")
    if int(header["crc"], 16) != crc16_arc(message):
        return Refusal(Answer.NAK, "CRC does not match")
    try:
        text = message.decode("ascii")
    except UnicodeDecodeError:
        return Refusal(Answer.DUH, "the message is not ASCII")
    fields = _ENVELOPE.match(text)
    if fields is None:
        return Refusal(Answer.DUH, "the message's fields (id, sequence, L-prefix, #account, [data]) are not as DC-09 defines")
    star, token, sequence, receiver, prefix, account, rest = fields.groups()
    # Positional: a NamedTuple built with keywords costs twice as much, for every frame.
    return Envelope(token, star is not None, sequence, receiver, prefix, account.upper(), rest)


def open_envelope(envelope: Envelope, *, now: datetime, key: bytes | None = None,
                  window: tuple[timedelta, timedelta] = DEFAULT_WINDOW) -> Frame | Refusal:
    """Decrypt (with the account's key) and check the content and the time window."""
    content = envelope.rest
    if envelope.encrypted:
        if key is None:
            return Refusal(Answer.DUH, f"encrypted frame, but account {envelope.account} has no DC-09 key", _echo(envelope))
        if not _ENCRYPTED.match(content):
            return Refusal(Answer.DUH, "the encrypted part is not hex", _echo(envelope))
        try:
            content = crypto.decrypt(content, key)
        except crypto.Undecryptable as exc:
            return Refusal(Answer.DUH, f"could not decrypt: {exc}", _echo(envelope))
    fields = _CONTENT.match(content)
    if fields is None:
        return Refusal(Answer.DUH, "the message's fields (id, sequence, L-prefix, #account, [data]) are not as DC-09 defines")
    data, xdata, stamp_text = fields.groups()
    stamp = None
    if stamp_text is not None:
        try:
            stamp = _timestamp(stamp_text)
        except ValueError:
            return Refusal(Answer.DUH, f"timestamp {stamp_text!r} is not HH:MM:SS,MM-DD-YYYY")
    frame = Frame(envelope.token, envelope.encrypted, envelope.sequence, envelope.receiver, envelope.prefix,
                  envelope.account, data, tuple(_XDATA.findall(xdata)) if xdata else (), stamp)
    if frame.encrypted and stamp is None:
        return Refusal(Answer.NAK, "an encrypted frame must carry a timestamp", frame)
    if stamp is not None and not (window[0] <= stamp - now <= window[1]):
        return Refusal(Answer.NAK, f"timestamp {stamp:%H:%M:%S} is outside the window around the receiver's time", frame)
    return frame


def _echo(envelope: Envelope) -> Frame:
    """What a refusal of an envelope that could not be opened echoes."""
    return Frame(envelope.token, envelope.encrypted, envelope.sequence, envelope.receiver, envelope.prefix,
                 envelope.account, "")


def parse(raw: bytes, *, now: datetime, key: bytes | None = None,
          window: tuple[timedelta, timedelta] = DEFAULT_WINDOW) -> Frame | Refusal:
    """One frame (LF…CR) → ``Frame``, or a ``Refusal`` naming the answer. Never raises."""
    envelope = read(raw)
    if isinstance(envelope, Refusal):
        return envelope
    return open_envelope(envelope, now=now, key=key, window=window)


_STAMP = re.compile(r"(\d\d):(\d\d):(\d\d),(\d\d)-(\d\d)-(\d{4})")


@functools.lru_cache(maxsize=1024)
def _timestamp(text: str) -> datetime:
    """``HH:MM:SS,MM-DD-YYYY`` in UTC; ValueError if it is not a time. (strptime took a twentieth
    of a link test's CPU; a thousand panels send the same few seconds' stamps, hence the cache.)"""
    match = _STAMP.fullmatch(text)
    if match is None:
        raise ValueError(text)
    hour, minute, second, month, day, year = map(int, match.groups())
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)


@functools.lru_cache(maxsize=64)
def _stamp_text(second: int) -> str:
    """The timestamp an answer carries (whole seconds, UTC): every ACK of the same second
    carries the same text, formatted once."""
    return datetime.fromtimestamp(second, timezone.utc).strftime(TIMESTAMP_FORMAT)


def build(token: str, *, sequence: str, account: str, prefix: str = "0", receiver: str | None = None,
          data: str = "", xdata: tuple[str, ...] = (), timestamp: datetime | None = None,
          key: bytes | None = None) -> bytes:
    """A frame as a sender or this receiver writes it (answers, tests, the benchmark).
    With ``key`` it is encrypted (and must carry a timestamp)."""
    content = f"{data}]" + "".join(f"[{x}]" for x in xdata)
    if timestamp is not None:
        content += "_" + _stamp_text(int(timestamp.timestamp()))
    if key is not None:
        if timestamp is None:
            raise ValueError("an encrypted DC-09 frame carries a timestamp")
        token, content = "*" + token, crypto.encrypt(content, key)
    return _framed(_message(token, sequence, receiver, prefix, account, content))


def _message(token: str, sequence: str, receiver: str | None, prefix: str, account: str, content: str) -> str:
    return f'"{token}"{sequence}' + (f"R{receiver}" if receiver else "") + f"L{prefix}#{account}[{content}"


# ANSI/SIA DC-09-2013, 5.5.3.2 "NAK - Negative Acknowledgement" (kept in DC-09-2021): the CSR
# sends the NAK "containing a timestamp", never encrypted, in one fixed form that echoes
# nothing of the refused frame (its sequence or account may be what was damaged):
#     <LF><crc><0LLL>"NAK"0000R0L0A0[]_HH:MM:SS,MM-DD-YYYY<CR>
# "A0" stands where a frame has "#acct": it is what the standard writes, not a typo, and
# independent receivers send exactly these bytes (Respons sent "NAK"0000L0#000[] before
# issue 15). The timestamp is the receiver's UTC time, so a panel can set its clock by it.
NAK_MESSAGE = '"NAK"0000R0L0A0[]'
# 5.5.3.3 "DUH - Unable Acknowledgement": a correctly received message the CSR cannot process
# is answered "DUH" echoing sequence, receiver, prefix and account, with empty data and no
# timestamp, in clear:  "DUH"seq Rrcvr Lpref #acct[]  (as the clear ACK of 5.5.3.1 is written).
# When not even those fields could be read (not ASCII, fields not as DC-09 defines), there is
# nothing to echo; Respons then uses the NAK's placeholders, the standard's own way of
# writing "no sequence, receiver, prefix or account":  "DUH"0000R0L0A0[].
DUH_UNREAD_MESSAGE = '"DUH"0000R0L0A0[]'


def _framed(message: str) -> bytes:
    body = message.encode("ascii")
    if len(body) > 0xFFF:
        raise ValueError("a DC-09 message is at most 4095 bytes")
    return b"\n" + f"{crc16_arc(body):04X}0{len(body):03X}".encode("ascii") + body + b"\r"


def answer(kind: Answer, frame: Frame | None, *, now: datetime, key: bytes | None = None) -> bytes:
    """ACK/NAK/DUH for ``frame``, in the forms of ANSI/SIA DC-09 5.5.3 (above). The ACK echoes
    the frame and, for an encrypted frame, is encrypted with the same key and carries the
    receiver's time; NAK and DUH are sent in clear (the sender may not share our key, which
    may be the very problem)."""
    if kind is Answer.NAK:
        return _framed(NAK_MESSAGE + "_" + _stamp_text(int(now.timestamp())))
    if frame is None:
        if kind is Answer.DUH:
            return _framed(DUH_UNREAD_MESSAGE)
        raise ValueError("an ACK answers a frame that was read")
    if kind is Answer.DUH:
        return _framed(_message("DUH", frame.sequence, frame.receiver, frame.prefix, frame.account, "]"))
    if frame.encrypted and key is not None:
        return build(kind.value, sequence=frame.sequence, account=frame.account, prefix=frame.prefix,
                     receiver=frame.receiver, key=key, timestamp=now)
    # The clear ACK, every panel's every frame: its message written at once rather than
    # through ``build`` (half its cost).
    return _framed(_message("ACK", frame.sequence, frame.receiver, frame.prefix, frame.account,
                            "]_" + _stamp_text(int(now.timestamp())) if frame.timestamp else "]"))
