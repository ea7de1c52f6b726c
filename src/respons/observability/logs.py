"""Logging for a running node: plain text by default, one JSON object per line with
``RESPONS_LOG_FORMAT=json`` (for journald/Loki/Elastic), and the request id on every line
written while a request is handled.

The request id is the caller's ``X-Request-ID`` when it looks like one (letters, digits and
``-_.:``, at most 128 characters: it is written into logs and headers as is), otherwise a
fresh one; it is returned in the response's ``X-Request-ID`` (web/metrics.py).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import datetime, timezone

request_id: ContextVar[str | None] = ContextVar("respons_request_id", default=None)

_USABLE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def accept_request_id(offered: str | None) -> str:
    """The caller's id if it is safe to log and echo, otherwise a new one."""
    if offered and _USABLE_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One line per record: ts, level, logger, message, request_id, and any ``extra`` fields
    the code passed; a traceback as one ``exc`` string (a JSON line stays one line)."""

    _STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "request_id", None):
            entry["request_id"] = record.request_id
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None)
        return f"{line} [request {rid}]" if rid and record.name != ACCESS_LOGGER else line


ACCESS_LOGGER = "respons.access"


def configure(log_format: str = "text", *, level: int = logging.INFO) -> None:
    """Set up the root logger for ``respons serve`` (uvicorn is told to leave it alone)."""
    if log_format not in ("text", "json"):
        raise ValueError(f"RESPONS_LOG_FORMAT must be 'text' or 'json', not {log_format!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else _TextFormatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # One line per simulated request would bury the server's own messages; our access log
    # (respons.access) replaces uvicorn's.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
