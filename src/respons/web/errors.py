"""One shape for every error the API returns: a code a program can branch on and a
message a person can act on."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel


class ErrorOut(BaseModel):
    error: str
    message: str
    quarantine_id: str | None = None
    problems: list[dict[str, str]] | None = None


def error_response(status: int, error: str, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {"error": error, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(status_code=status, content=body, headers=headers)
