"""The running node as the web routes see it (built by respons/runtime.py)."""

from __future__ import annotations

from fastapi import Request

from respons.runtime import Runtime

__all__ = ["Runtime", "runtime"]


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime
