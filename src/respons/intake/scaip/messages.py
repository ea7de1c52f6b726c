"""SCAIP messages: the ``mrq`` (message request) a device sends, the ``mrs`` (message
response) the alarm receiver answers.

The standards (SS 91100:2014, CLC/TS 50134-9:2018) are not freely available; the tags, their
patterns, which are mandatory and the status numbers below are taken from public material
and listed with their source in docs/scaip.md:

- the element model generated from the SCAIP XML schema in caruhome/scaip-gateway
  (``scaip_gateway/xml/scaip.py``: ``mrq``/``mrs`` element names, ``required`` and
  ``pattern`` facets) and its enumerations (``scaip_gateway/spec.py``: status numbers,
  message types, call handling);
- Syntilio/Datahub-Scaip-Proxy (``SPEC.md``, ``enums/StatusNumber.java``, the forward
  sequence diagram: the ``mrs`` travels in the SIP ``200 OK``);
- iotcomms.io's SCAIP documentation (controller id vs. device id, GPS position).

``mrq`` tags read here: ``ref`` reference (mandatory, echoed in the answer), ``ver``
version, ``cid`` controller id (mandatory; binds the message to a registered device),
``dty`` device type (mandatory), ``sco`` system configuration, ``cha`` call handling,
``mty`` message type (``ME`` message, ``RE`` reset, ``IN`` information, ``PI`` ping =
heartbeat), ``hbo`` heartbeat options, ``did`` device id, ``dco`` device component, ``dte``
device text, ``crd`` caller id, ``stc`` status code, ``stt`` status text, ``pri``
priority, ``lco``/``lva``/``lte`` location code/value/text, ``lge`` geographic position
(``geo`` WGS84 "lat,lon", ``tim`` time, ``gga`` NMEA GGA sentence), ``ico``/``ite`` info
code/text, ``ame`` additional message follows. Other simple elements are kept as they came
(``extra``), so nothing a device says is lost.

Parsing uses the standard library's expat through ``xml.etree``; a document with a
DOCTYPE (the door to entity expansion, "billion laughs") is refused before it is parsed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, fields
from enum import IntEnum, StrEnum
from xml.sax.saxutils import escape

CONTENT_TYPE = "application/scaip+xml"
# application/scaip+xml is the IANA-registered type; text/xml and application/xml are seen in the wild.
ACCEPTED_CONTENT_TYPES = frozenset({CONTENT_TYPE, "text/xml", "application/xml"})
MAX_MRQ_BYTES = 4096  # the schema's longest fields add up to well under 2 kB


class StatusNumber(IntEnum):
    """``snu`` in the ``mrs``: 0 is OK, the rest say why the message was not accepted."""

    OK = 0
    MESSAGE_TOO_LONG = 1
    INVALID_FORMAT = 2  # not XML, not an mrq, unreadable
    WRONG_DATA_CONTENT = 3  # a tag's value is not what the schema allows, or a code we do not know
    HOLD = 4
    NOT_TREATED = 5  # we did not act on it (used for an unknown controller id)
    BUSY = 6
    MANDATORY_TAG_MISSING = 7


class MessageType:
    MESSAGE = "ME"
    RESET = "RE"
    INFORMATION = "IN"
    PING = "PI"  # heartbeat


class Unreadable(ValueError):
    """An ``mrq`` that cannot be acted on: ``status`` is the ``snu`` to answer, ``ref`` and
    ``cid`` are what could be read (to echo, and to find the device for the quarantine)."""

    def __init__(self, status: StatusNumber, reason: str, *, ref: str | None = None, cid: str | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.ref = ref
        self.cid = cid


@dataclass(frozen=True)
class Position:
    lat: float
    lon: float


# Simple (text-only) mrq elements: tag -> pattern from the schema (None: any text up to 256).
# ``cid`` is digits in the schema; a leading "+" (an E.164 number) is seen in the wild and allowed.
_SIMPLE: dict[str, str | None] = {
    "ref": r"[0-9A-Za-z]{1,16}", "ver": r"[0-9]{2}\.[0-9]{2}", "cid": r"\+?[0-9]{1,16}", "dty": r"[0-9]{1,4}",
    "sco": r"[0-9]", "cha": r"[0-9]", "mty": r"ME|RE|IN|PI", "hbo": r"[0-9]{1,3}", "did": None, "dco": r"[0-9]{1,3}",
    "dte": None, "crd": None, "stc": r"[0-9]{1,4}", "stt": None, "pri": r"[0-9]", "lco": r"[0-9]{1,3}", "lva": None,
    "lte": None, "ico": r"[0-9]{1,3}", "ite": None, "ame": r"[01]?",
}
_MANDATORY = ("ref", "cid", "dty")
_MAX_TEXT = 256
_MAX_EXTRA = 32
_XML_SPACE = " \t\r\n"  # XML's white space; a no-break space is content


@dataclass(frozen=True)
class Mrq:
    """A message request. Codes are kept as sent; ``code()`` gives them zero-padded."""

    ref: str
    cid: str
    dty: str
    ver: str | None = None
    sco: str | None = None
    cha: str | None = None
    mty: str | None = None
    hbo: str | None = None
    did: str | None = None
    dco: str | None = None
    dte: str | None = None
    crd: str | None = None
    stc: str | None = None
    stt: str | None = None
    pri: str | None = None
    lco: str | None = None
    lva: str | None = None
    lte: str | None = None
    ico: str | None = None
    ite: str | None = None
    ame: str | None = None
    geo: str | None = None  # lge/geo as sent
    tim: str | None = None  # lge/tim as sent
    gga: str | None = None  # lge/gga as sent
    extra: tuple[tuple[str, str], ...] = field(default=())

    @property
    def message_type(self) -> str:
        return self.mty or MessageType.MESSAGE  # the schema's default

    @property
    def device_type(self) -> str:
        return self.dty.zfill(4)

    @property
    def status_code(self) -> str | None:
        return self.stc.zfill(4) if self.stc is not None else None

    @property
    def position(self) -> Position | None:
        """WGS84 position from ``lge``: the NMEA GGA sentence when it reads, else ``geo``."""
        return _from_gga(self.gga) or _from_geo(self.geo)

    def fields(self) -> dict[str, str]:
        """Every tag that was sent, by name (for the payload and the idempotency hash)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out = {k: v for k, v in out.items() if v is not None}
        out.update({f"x:{k}": v for k, v in self.extra})
        return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]  # "{namespace}mrq" -> "mrq"


_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)
_REF = re.compile(rb"<(?:\w+:)?ref>\s*([0-9A-Za-z]{1,16})\s*</(?:\w+:)?ref>")
_CID = re.compile(rb"<(?:\w+:)?cid>\s*(\+?[0-9]{1,16})\s*</(?:\w+:)?cid>")


def _peek(body: bytes, pattern: re.Pattern) -> str | None:
    """Best effort for a document that does not parse: the ref to echo, the cid to file it under."""
    m = pattern.search(body[:MAX_MRQ_BYTES])
    return m[1].decode("ascii") if m else None


def parse_mrq(body: bytes) -> Mrq:
    """An ``mrq`` document → ``Mrq``; raises ``Unreadable`` (with the ``snu`` to answer) and nothing else."""
    ref, cid = _peek(body, _REF), _peek(body, _CID)
    if len(body) > MAX_MRQ_BYTES:
        raise Unreadable(StatusNumber.MESSAGE_TOO_LONG, f"{len(body)} bytes; an mrq is at most {MAX_MRQ_BYTES}",
                         ref=ref, cid=cid)
    if _DOCTYPE.search(body):
        raise Unreadable(StatusNumber.INVALID_FORMAT, "a DOCTYPE or ENTITY declaration is not allowed", ref=ref, cid=cid)
    try:
        root = ET.fromstring(body)
    except (ET.ParseError, ValueError, LookupError) as exc:  # e.g. an unknown encoding
        raise Unreadable(StatusNumber.INVALID_FORMAT, f"not well-formed XML: {exc}", ref=ref, cid=cid) from None
    # <scaip> as the root is seen in one public implementation; the schema's root is <mrq>.
    if _local(root.tag) not in ("mrq", "scaip"):
        raise Unreadable(StatusNumber.INVALID_FORMAT, f"the root element is <{_local(root.tag)[:20]}>, not <mrq>",
                         ref=ref, cid=cid)
    values: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    lge: ET.Element | None = None
    for child in root:
        tag = _local(child.tag) if isinstance(child.tag, str) else ""
        if not tag:
            continue  # a comment or processing instruction
        if tag == "lge":
            if lge is not None:
                raise Unreadable(StatusNumber.WRONG_DATA_CONTENT, "<lge> appears more than once", ref=ref, cid=cid)
            lge = child
            continue
        if len(child):
            if tag in _SIMPLE:
                raise Unreadable(StatusNumber.WRONG_DATA_CONTENT, f"<{tag}> must hold text, not elements", ref=ref, cid=cid)
            continue  # an unknown structured element: not ours to read
        text = (child.text or "").strip(_XML_SPACE)
        if not text and tag in _SIMPLE:
            continue  # an empty optional element says nothing (an empty mandatory one is "missing")
        if tag not in _SIMPLE:
            if len(extra) < _MAX_EXTRA:
                extra.append((tag[:40], text[:_MAX_TEXT]))
            continue
        if tag in values:
            raise Unreadable(StatusNumber.WRONG_DATA_CONTENT, f"<{tag}> appears more than once", ref=ref, cid=cid)
        values[tag] = text
    ref = values.get("ref") if values.get("ref") and re.fullmatch(_SIMPLE["ref"], values["ref"]) else ref
    cid = values.get("cid") if values.get("cid") and re.fullmatch(_SIMPLE["cid"], values["cid"]) else cid
    missing = [tag for tag in _MANDATORY if not values.get(tag)]
    if missing:
        raise Unreadable(StatusNumber.MANDATORY_TAG_MISSING, f"mandatory tag(s) missing: {', '.join(missing)}",
                         ref=ref, cid=cid)
    for tag, text in values.items():
        pattern = _SIMPLE[tag]
        if pattern is None:
            ok = len(text) <= _MAX_TEXT
        else:
            ok = re.fullmatch(pattern, text) is not None
        if not ok:
            raise Unreadable(StatusNumber.WRONG_DATA_CONTENT, f"<{tag}> {text[:40]!r} is not what the schema allows",
                             ref=ref, cid=cid)
    geo = tim = gga = None
    if lge is not None:
        parts = {_local(c.tag): (c.text or "").strip(_XML_SPACE)[:_MAX_TEXT] for c in lge if isinstance(c.tag, str)}
        geo, tim, gga = parts.get("geo") or None, parts.get("tim") or None, parts.get("gga") or None
    return Mrq(**values, geo=geo, tim=tim, gga=gga, extra=tuple(extra))


def build_mrq(mrq: Mrq) -> bytes:
    """The XML a device sends for ``mrq`` (tests, the benchmark, the sipp scenario's twin)."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', "<mrq>"]
    for f in fields(mrq):
        value = getattr(mrq, f.name)
        if f.name in _SIMPLE and value is not None:
            parts.append(f"<{f.name}>{escape(value)}</{f.name}>")
    if mrq.geo or mrq.tim or mrq.gga:
        parts.append("<lge>" + "".join(f"<{t}>{escape(v)}</{t}>" for t, v in
                                       (("geo", mrq.geo), ("tim", mrq.tim), ("gga", mrq.gga)) if v) + "</lge>")
    parts += [f"<{tag}>{escape(value)}</{tag}>" for tag, value in mrq.extra]
    parts.append("</mrq>")
    return "".join(parts).encode("utf-8")


@dataclass(frozen=True)
class Mrs:
    ref: str
    snu: int
    ste: str | None = None
    mre: str | None = None
    cre: str | None = None
    tnu: str | None = None


# --- the voice call after an alarm: mre, cre, tnu (SS 91100:2014 Table 2; SIS-TR 91102:2016 §5)


class VoiceMode(StrEnum):
    """How the centre answers a unit's voice question (docs/scaip.md, "Voice in the answer")."""

    AUTO = "auto"  # voice through Respons: a call while its gateway answers, none while it does not
    EXTERNAL = "external"  # the units' calls go to a telephone system outside Respons: always a call
    NONE = "none"  # no voice call after an alarm


MEDIA_NONE = "0"  # mre: no voice call
MEDIA_DUPLEX = "1"  # mre: duplex voice call
CALL_PREDEFINED = "61"  # cre: the unit calls its pre-defined receiver (also what an absent cre means)
CALL_TRANSFERRED = "62"  # cre: the unit calls the URI or number in tnu


@dataclass(frozen=True)
class VoiceReply:
    mre: str
    cre: str | None = None
    tnu: str | None = None


def voice_reply(cha: str | None, *, mode: VoiceMode, voice_configured: bool, voice_available: bool,
                voice_wanted: bool, can_call_back: bool, callback_minutes: int,
                call_to: str | None) -> VoiceReply | None:
    """What the answer to an accepted alarm tells the unit about the voice call (None: nothing).

    A unit starts its call only after an ``mrs`` with ``snu`` 0 and ``mre`` 1 or more (SS 91100
    §5). In ``auto`` mode an installation without Respons's voice says nothing, as before it
    had voice (its units may call a telephone system of their own: ``external`` says so
    explicitly). Otherwise ``mre`` is 1 (duplex) when the centre can talk, 0 when it cannot or
    the alarm is technical (a low battery is no reason to open the loudspeaker). ``cre``
    answers ``cha``: in ``auto`` mode, a unit that asked to be called back (``cha`` 1) and
    that Respons can call is told to keep its auto-answer channel open ``callback_minutes``
    ("01"-"60"); otherwise the unit calls: ``call_to`` ("62" with ``tnu``) when set, else its
    pre-defined receiver ("61")."""
    if mode is VoiceMode.AUTO and not voice_configured:
        return None
    if mode is VoiceMode.NONE or not voice_wanted or (mode is VoiceMode.AUTO and not voice_available):
        return VoiceReply(MEDIA_NONE)
    if cha == "1" and can_call_back and mode is VoiceMode.AUTO:
        return VoiceReply(MEDIA_DUPLEX, f"{max(1, min(60, callback_minutes)):02d}")
    if call_to:
        return VoiceReply(MEDIA_DUPLEX, CALL_TRANSFERRED, call_to)
    return VoiceReply(MEDIA_DUPLEX, CALL_PREDEFINED)


def build_mrs(ref: str | None, status: StatusNumber, text: str | None = None, voice: VoiceReply | None = None) -> bytes:
    """The answer: ``ref`` echoed (empty when the request had none that could be read),
    ``snu`` the status number, ``ste`` a short status text for a refusal, and for an accepted
    alarm what the unit is to do about the voice call (``voice_reply``).

    ``mre`` is one digit, as SS 91100's Table 2 and TR 91102's examples write it (the schema in
    Annex F says two: see docs/scaip.md). The heartbeat interval (``hbi``) is not sent: the
    device keeps its configured heartbeat."""
    ste = f"<ste>{escape(text[:128])}</ste>" if text else ""
    media = ""
    if voice is not None:
        media = f"<mre>{voice.mre}</mre>"
        media += f"<cre>{voice.cre}</cre>" if voice.cre else ""
        media += f"<tnu>{escape(voice.tnu)}</tnu>" if voice.tnu else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><mrs><ref>{escape(ref or "")}</ref>'
            f"<snu>{int(status)}</snu>{ste}{media}</mrs>").encode("utf-8")


def parse_mrs(body: bytes) -> Mrs:
    """An ``mrs`` (tests and clients); raises ``ValueError`` if it is not one."""
    if _DOCTYPE.search(body):
        raise ValueError("a DOCTYPE or ENTITY declaration is not allowed")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from None
    if _local(root.tag) != "mrs":
        raise ValueError(f"the root element is <{_local(root.tag)}>, not <mrs>")
    values = {_local(c.tag): (c.text or "").strip(_XML_SPACE) for c in root if isinstance(c.tag, str)}
    if not values.get("snu", "").isdigit():
        raise ValueError("<snu> is missing or not a number")
    return Mrs(ref=values.get("ref", ""), snu=int(values["snu"]), ste=values.get("ste") or None,
               mre=values.get("mre") or None, cre=values.get("cre") or None, tnu=values.get("tnu") or None)


def _from_geo(geo: str | None) -> Position | None:
    """``lge/geo``: "lat,lon" in decimal degrees (the schema allows digits, '.' and ',')."""
    if not geo:
        return None
    parts = geo.split(",")
    if len(parts) != 2:
        return None
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        return None
    return _checked(lat, lon)


_GGA = re.compile(r"^\$?[A-Z]{2}GGA,[^,]*,(\d{2})(\d{2}(?:\.\d+)?),([NS]),(\d{3})(\d{2}(?:\.\d+)?),([EW]),")


def _from_gga(gga: str | None) -> Position | None:
    """``lge/gga``: an NMEA 0183 GGA sentence (ddmm.mmmm,N,dddmm.mmmm,E)."""
    if not gga:
        return None
    m = _GGA.match(gga)
    if m is None:
        return None
    lat = int(m[1]) + float(m[2]) / 60
    lon = int(m[4]) + float(m[5]) / 60
    return _checked(-lat if m[3] == "S" else lat, -lon if m[6] == "W" else lon)


def _checked(lat: float, lon: float) -> Position | None:
    if -90 <= lat <= 90 and -180 <= lon <= 180:
        return Position(round(lat, 7), round(lon, 7))
    return None
