"""Server-sent events of committed alarm changes, for the console and the responder app.

One stream per browser:
- ``alarm``: a change that passes ``wanted`` (scope, or a responder's duty);
- ``reload``: this reader lost changes (it fell behind, or the node lost and regained its
  link to the other nodes): refetch everything;
- ``heartbeat`` every ``RESPONS_SSE_HEARTBEAT_SECONDS`` with ``{"live": true|false}``: the
  page shows "live" only while heartbeats arrive and say true (false: this node cannot hear
  the other nodes, so the screen may be missing changes).

The stream ends after ``RESPONS_SSE_MAX_SECONDS`` and at once when the node stops; the
browser's EventSource reconnects by itself (``retry: 2000``) and the page refetches once.
"""

from __future__ import annotations

import json
import time
from typing import Callable

from fastapi import Request
from fastapi.responses import StreamingResponse

from respons.web.runtime import runtime


def change_stream(request: Request, wanted: Callable[[dict], bool],
                  ends_on: Callable[[dict], bool] | None = None, *, event_name: str = "alarm") -> StreamingResponse:
    """``ends_on``: a change after which this stream's filter is stale (a responder's duty
    changed): the stream says ``reload`` and ends, and the browser opens a new one.
    ``event_name``: what the changes are called on the stream (``lookin`` for the round)."""
    rt = runtime(request)
    live = rt.live
    subscription = live.subscribe(wanted)
    beat = rt.settings.sse_heartbeat_seconds

    def heartbeat() -> str:
        return f"event: heartbeat\ndata: {json.dumps({'live': live.connected})}\n\n"

    async def stream():
        now = time.monotonic()
        ends = now + rt.settings.sse_max_seconds
        next_beat = now + beat
        try:
            yield "retry: 2000\n\n" + heartbeat()
            while not subscription.closed and (now := time.monotonic()) < ends:
                change = await subscription.next(timeout=max(0.0, min(next_beat, ends) - now))
                if subscription.closed:
                    return
                if subscription.overflowed:
                    subscription.overflowed = False
                    yield "event: reload\ndata: {}\n\n"
                if change is not None and ends_on is not None and ends_on(change):
                    yield "event: reload\ndata: {}\n\n"
                    return
                if change is not None:
                    yield f"event: {event_name}\ndata: {json.dumps(change, separators=(',', ':'))}\n\n"
                if time.monotonic() >= next_beat:
                    if await request.is_disconnected():
                        return
                    next_beat = time.monotonic() + beat
                    yield heartbeat()
        finally:
            live.unsubscribe(subscription)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
