"""Server-sent events of committed alarm changes, for the console and the responder app.

One stream per browser: changes that pass ``wanted`` (scope) as ``alarm`` events, a
``reload`` event when this reader fell behind and lost changes (refetch everything), and
keep-alive comments while idle. The stream ends after ``RESPONS_SSE_MAX_SECONDS``; the
browser's EventSource reconnects by itself (``retry: 2000``) and the page refetches once.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Callable

from fastapi import Request
from fastapi.responses import StreamingResponse

from respons.web.runtime import runtime


def change_stream(request: Request, wanted: Callable[[dict], bool]) -> StreamingResponse:
    rt = runtime(request)
    subscription = rt.live.subscribe(wanted)

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
