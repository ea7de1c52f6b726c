"""The SIP part of SCAIP: parse one request, cut a TCP stream into messages, build responses.

SCAIP (CLC/TS 50134-9, SS 91100) carries its XML in the body of **SIP MESSAGE** requests
(RFC 3428) and the alarm receiver's answer (``mrs``) in the body of the ``200 OK``. This
module knows just enough SIP (RFC 3261) for that, as pure functions of bytes:

- ``parse_request(raw)`` → ``Request``, or ``BadRequest`` (with the status to answer and the
  headers it could read, so a 400 can still echo Via, From, To, Call-ID and CSeq).
  Compact header names (``v``, ``f``, ``t``, ``i``, ``l``, ``c``, …) are expanded, folded
  header lines are joined, the body is cut at Content-Length (on UDP the datagram may carry
  more; RFC 3261 §18.3 says to discard it).
- ``MessageSplitter`` frames a TCP byte stream by Content-Length: several messages in one
  read, one message across reads, CRLF keep-alives between messages skipped.
- ``response(...)`` builds ``SIP/2.0 <code> <reason>``, copying every Via in order, From,
  To (adding ``;tag=`` when the request had none), Call-ID and CSeq, and always writing
  Content-Length. The To-tag is derived from the request (Call-ID, CSeq, From), so a
  retransmitted request gets a byte-identical answer, as RFC 3261 §8.2.6.2 and §17.2.1 ask.

Nothing here opens a socket or reads the clock; the receiver is the I/O edge.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

CRLF = b"\r\n"
MAX_HEADER_BYTES = 16 * 1024  # a header block longer than this is noise, not a SCAIP device
MAX_BODY_BYTES = 64 * 1024  # SCAIP bodies are a few hundred bytes; SIP over UDP stays < 1300
SERVER = "Respons SCAIP"

# RFC 3261 §7.3.3 and the later RFCs' compact forms (RFC 3265, 3515, 3892, 4028, 3841, 4474).
COMPACT = {
    "a": "Accept-Contact", "b": "Referred-By", "c": "Content-Type", "d": "Request-Disposition",
    "e": "Content-Encoding", "f": "From", "i": "Call-ID", "j": "Reject-Contact", "k": "Supported",
    "l": "Content-Length", "m": "Contact", "n": "Identity-Info", "o": "Event", "r": "Refer-To",
    "s": "Subject", "t": "To", "u": "Allow-Events", "v": "Via", "x": "Session-Expires", "y": "Identity",
}
# The spelling RFC 3261 uses, for the headers we copy or read.
_CANONICAL = {name.lower(): name for name in (
    "Via", "From", "To", "Call-ID", "CSeq", "Content-Length", "Content-Type", "Max-Forwards", "Contact",
    "Allow", "Accept", "User-Agent", "Server", "Supported", "Require", "Content-Encoding", "Subject",
)}
# Methods RFC 3261 and its extensions define: answered 405 (known, not allowed here);
# anything else is 501 (not implemented). ACK is never answered.
KNOWN_METHODS = frozenset({"INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK", "SUBSCRIBE",
                           "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"})
ALLOW = "MESSAGE, OPTIONS"
REQUIRED = ("Via", "From", "To", "Call-ID", "CSeq")

REASONS = {
    200: "OK", 400: "Bad Request", 405: "Method Not Allowed", 413: "Request Entity Too Large",
    415: "Unsupported Media Type", 420: "Bad Extension", 501: "Not Implemented", 503: "Service Unavailable",
    505: "Version Not Supported",
}

_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
_REQUEST_LINE = re.compile(r"^(?P<method>[A-Za-z0-9.!%*_+`'~-]+) (?P<uri>\S+) (?P<version>SIP/\d+\.\d+)$")
_CSEQ = re.compile(r"^(?P<number>\d{1,10})\s+(?P<method>[A-Za-z0-9.!%*_+`'~-]+)$")
_HEADER_END = b"\r\n\r\n"


def canonical_name(name: str) -> str:
    """``v`` → ``Via``, ``call-id`` → ``Call-ID``; unknown names keep their spelling."""
    lower = name.lower()
    if lower in COMPACT:
        return COMPACT[lower]
    return _CANONICAL.get(lower, name)


@dataclass(frozen=True)
class Request:
    method: str
    uri: str
    version: str
    headers: tuple[tuple[str, str], ...]  # (canonical name, value) in the order received
    body: bytes = b""

    def all(self, name: str) -> list[str]:
        wanted = canonical_name(name).lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def get(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    @property
    def call_id(self) -> str:
        return self.get("Call-ID") or ""

    @property
    def cseq(self) -> str:
        return self.get("CSeq") or ""

    @property
    def content_type(self) -> str | None:
        """The media type without parameters, lower case (``application/scaip+xml``)."""
        value = self.get("Content-Type")
        return value.split(";", 1)[0].strip().lower() if value else None


class BadRequest(Exception):
    """A request that cannot be handled; ``status`` says what to answer (400, 413, 505).

    ``headers`` holds whatever header lines could be read, so the answer can still echo
    Via, From, To, Call-ID and CSeq; ``response_possible`` is False when there is no Via
    (a SIP response is routed by its Via: without one there is nobody to answer)."""

    def __init__(self, status: int, reason: str, headers: tuple[tuple[str, str], ...] = ()):
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.headers = headers

    @property
    def response_possible(self) -> bool:
        return any(name == "Via" for name, _ in self.headers)


def _decode(data: bytes) -> str:
    # SIP is UTF-8 text (RFC 3261 §7); a byte that is not stays visible in the error, not a crash.
    return data.decode("utf-8", errors="replace")


def _header_lines(block: str) -> tuple[list[tuple[str, str]], str | None]:
    """Header lines → [(canonical name, value)], joining folded lines; the first problem, if any."""
    headers: list[tuple[str, str]] = []
    problem = None
    for line in block.split("\r\n"):
        if not line:
            continue
        if line[0] in " \t":
            if headers:  # folding: the line continues the previous header's value
                name, value = headers[-1]
                headers[-1] = (name, f"{value} {line.strip()}".strip())
            elif problem is None:
                problem = "a header block cannot start with a continuation line"
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not name or not _TOKEN.match(name):
            problem = problem or f"not a header line: {line[:60]!r}"
            continue
        headers.append((canonical_name(name), value.strip()))
    return headers, problem


def parse_request(raw: bytes, *, datagram: bool = False) -> Request:
    """One SIP request → ``Request``; raises ``BadRequest`` and nothing else.

    ``datagram``: the bytes are one UDP datagram, which may carry more than Content-Length
    says (discarded) and need not carry Content-Length at all (the body is the rest)."""
    raw = raw.lstrip(b"\r\n")  # RFC 3261 §7.5: ignore CRLFs before the start line
    head, sep, rest = raw.partition(_HEADER_END)
    if not sep:
        head, rest = raw, b""
        if head.endswith(CRLF):
            head = head[:-2]
    if len(head) > MAX_HEADER_BYTES:
        raise BadRequest(400, "the header block is too long")
    text = _decode(head)
    start, _, block = text.partition("\r\n")
    headers, problem = _header_lines(block)
    seen = tuple(headers)
    if start.startswith("SIP/"):
        raise BadRequest(400, "a response, not a request", seen)
    line = _REQUEST_LINE.match(start)
    if line is None:
        raise BadRequest(400, f"not a SIP request line: {start[:60]!r}", seen)
    if line["version"] != "SIP/2.0":
        raise BadRequest(505, f"{line['version']} is not SIP/2.0", seen)
    if problem:
        raise BadRequest(400, problem, seen)
    if not sep:
        raise BadRequest(400, "the header block does not end with an empty line", seen)
    request = Request(method=line["method"].upper(), uri=line["uri"], version="SIP/2.0", headers=seen)
    for name in REQUIRED:
        values = request.all(name)
        if not values or not values[0]:
            raise BadRequest(400, f"the {name} header is missing", seen)
        if name != "Via" and len(values) > 1:
            raise BadRequest(400, f"the {name} header appears more than once", seen)
    cseq = _CSEQ.match(request.cseq)
    if cseq is None:
        raise BadRequest(400, f"CSeq {request.cseq[:40]!r} is not 'number METHOD'", seen)
    if cseq["method"].upper() != request.method:
        raise BadRequest(400, f"CSeq method {cseq['method']} does not match {request.method}", seen)
    lengths = request.all("Content-Length")
    if len(set(lengths)) > 1:
        raise BadRequest(400, "Content-Length appears more than once with different values", seen)
    if lengths:
        if not lengths[0].isdigit() or len(lengths[0]) > 9:
            raise BadRequest(400, f"Content-Length {lengths[0][:20]!r} is not a number", seen)
        length = int(lengths[0])
        if length > MAX_BODY_BYTES:
            raise BadRequest(413, f"a body of {length} bytes is more than {MAX_BODY_BYTES}", seen)
        if len(rest) < length:
            raise BadRequest(400, f"Content-Length {length} but {len(rest)} bytes of body", seen)
        body = rest[:length]
        if len(rest) > length and not datagram:
            raise BadRequest(400, f"Content-Length {length} but {len(rest)} bytes follow the headers", seen)
    elif datagram:
        body = rest
        if len(body) > MAX_BODY_BYTES:
            raise BadRequest(413, f"a body of {len(body)} bytes is more than {MAX_BODY_BYTES}", seen)
    elif rest:
        raise BadRequest(400, "a body without Content-Length on a stream transport", seen)
    else:
        body = b""
    return Request(request.method, request.uri, request.version, seen, body)


class MessageSplitter:
    """Cut a TCP byte stream into SIP messages by Content-Length (RFC 3261 §18.3).

    Copes with several messages in one read and one message across reads; CRLFs between
    messages (RFC 5626 keep-alives) are skipped. When the stream cannot be framed any more
    (a header block without end, a Content-Length that is not a number or too large) the
    rest is handed out as one last message — the parser refuses it, so it is answered 400 —
    and ``broken`` says why: the receiver then closes the connection."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.broken: str | None = None

    def feed(self, data: bytes) -> list[bytes]:
        if self.broken:
            return []
        self._buffer += data
        messages: list[bytes] = []
        while True:
            skip = 0
            while self._buffer[skip:skip + 2] == CRLF:
                skip += 2
            if skip:
                del self._buffer[:skip]
            if self._buffer == b"\r":
                return messages
            end = self._buffer.find(_HEADER_END)
            if end < 0:
                if len(self._buffer) > MAX_HEADER_BYTES:
                    return messages + self._give_up("the header block has no end")
                return messages
            length = _content_length(bytes(self._buffer[:end]))
            if length is None or length > MAX_BODY_BYTES:
                return messages + self._give_up("Content-Length is missing a number or too large")
            total = end + 4 + length
            if len(self._buffer) < total:
                return messages
            messages.append(bytes(self._buffer[:total]))
            del self._buffer[:total]

    def _give_up(self, reason: str) -> list[bytes]:
        self.broken = reason
        rest = bytes(self._buffer)
        self._buffer.clear()
        return [rest]


def _content_length(head: bytes) -> int | None:
    """Content-Length from a header block; 0 when absent (a request without a body)."""
    values = []
    for line in head.split(CRLF)[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() in (b"content-length", b"l"):
            values.append(value.strip())
    if not values:
        return 0
    if len(set(values)) > 1 or not values[0].isdigit() or len(values[0]) > 9:
        return None
    return int(values[0])


_TAG = re.compile(r";\s*tag\s*=", re.I)


def has_tag(to_value: str) -> bool:
    """Whether a To/From value carries a ``tag`` header parameter (not one inside <URI>)."""
    params = to_value.rsplit(">", 1)[1] if ">" in to_value else to_value
    return bool(_TAG.search(params))


def local_tag(headers: tuple[tuple[str, str], ...]) -> str:
    """A To-tag that is the same for every retransmission of one request."""
    key = "\n".join(value for name, value in headers if name in ("Call-ID", "CSeq", "From"))
    return hashlib.sha256(key.encode("utf-8", errors="replace")).hexdigest()[:16]


def response(request: Request | BadRequest, status: int, *, reason: str | None = None, body: bytes = b"",
             content_type: str | None = None, extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    """``SIP/2.0 <status> <reason>`` for ``request`` (or for what a ``BadRequest`` could read)."""
    headers = request.headers
    lines = [f"SIP/2.0 {status} {reason or REASONS.get(status, 'Unknown')}"]
    lines += [f"Via: {value}" for name, value in headers if name == "Via"]
    for name in ("From", "To", "Call-ID", "CSeq"):
        value = next((v for n, v in headers if n == name), None)
        if value is None:
            continue
        if name == "To" and status != 100 and not has_tag(value):
            value = f"{value};tag={local_tag(headers)}"
        lines.append(f"{name}: {value}")
    lines.append(f"Server: {SERVER}")
    lines += [f"{name}: {value}" for name, value in extra]
    if body:
        lines.append(f"Content-Type: {content_type or 'text/plain'}")
    lines.append(f"Content-Length: {len(body)}")
    head = "\r\n".join(_clean(line) for line in lines) + "\r\n\r\n"
    return head.encode("utf-8") + body


def _clean(line: str) -> str:
    # Echoed values come from the network: never let one start a new header line.
    return line.replace("\r", " ").replace("\n", " ")


def build_request(method: str, uri: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    """A request as a device writes it (tests, the sipp scenario's twin); adds Content-Length."""
    lines = [f"{method} {uri} SIP/2.0"] + [f"{name}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def get(self, name: str) -> str | None:
        wanted = canonical_name(name).lower()
        return next((v for n, v in self.headers if n.lower() == wanted), None)

    def all(self, name: str) -> list[str]:
        wanted = canonical_name(name).lower()
        return [v for n, v in self.headers if n.lower() == wanted]


def parse_response(raw: bytes) -> Response:
    """A response (tests and clients); raises ``ValueError`` if it is not one."""
    head, sep, rest = raw.partition(_HEADER_END)
    if not sep:
        raise ValueError("no end of the header block")
    start, _, block = _decode(head).partition("\r\n")
    m = re.match(r"^SIP/2\.0 (\d{3}) (.*)$", start)
    if m is None:
        raise ValueError(f"not a SIP status line: {start[:60]!r}")
    headers, problem = _header_lines(block)
    if problem:
        raise ValueError(problem)
    length = next((int(v) for n, v in headers if n == "Content-Length" and v.isdigit()), len(rest))
    return Response(int(m[1]), m[2], tuple(headers), rest[:length])
