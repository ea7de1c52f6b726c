"""Server-sent events: the operator's queue changes as they are committed.

The console opens ``GET /api/v1/queue/events`` with EventSource and refetches the row or
the alarm an event names. Events carry ids, states and the alarm's priority (which sound to
play), never personal data: the refetch goes through the scoped, audited endpoints.

Event types:
- ``alarm``: ``{"alarm_id", "municipality_id", "event", "state", "seq", "priority"}``, one per committed
  timeline event in the caller's scope;
- ``reload``: updates were lost (the reader was too slow): refetch the whole queue;
- comments (``: keepalive``) keep idle connections open through proxies.
"""

from __future__ import annotations

import asyncio
import json
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from respons.domain.access import Role
from respons.web.access import Principal, access
from respons.web.runtime import runtime

router = APIRouter(prefix="/api/v1", tags=["operator"])


@router.get(
    "/queue/events",
    summary="Live queue changes (server-sent events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An event stream; see the module docs."}},
)
async def queue_events(request: Request, principal: Principal = Depends(access(Role.OPERATOR))):
    rt = runtime(request)
    in_scope = principal.scope.alarms
    subscription = rt.live.subscribe(lambda change: change.get("municipality_id") in in_scope)

    async def stream():
        ends = time.monotonic() + rt.settings.sse_max_seconds
        try:
            yield "retry: 2000\n\n"
            while (remaining := ends - time.monotonic()) > 0:
                change = await subscription.next(timeout=min(rt.settings.sse_keepalive_seconds, remaining))
                if subscription.overflowed:
                    subscription.overflowed = False
                    yield "event: reload\ndata: {}\n\n"
                if change is not None:
                    yield f"event: alarm\ndata: {json.dumps(change, separators=(',', ':'))}\n\n"
                elif await request.is_disconnected():
                    return
                else:
                    yield ": keepalive\n\n"
        except asyncio.CancelledError:
            raise
        finally:
            rt.live.unsubscribe(subscription)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
