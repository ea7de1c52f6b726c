"""Server-sent events: the operator's queue changes as they are committed.

The console opens ``GET /api/v1/queue/events`` with EventSource and refetches the row or
the alarm an event names. Events carry ids, states and the alarm's priority (which sound to
play), never personal data: the refetch goes through the scoped, audited endpoints.

Event types (web/sse.py):
- ``alarm``: ``{"alarm_id", "municipality_id", "event", "state", "seq", "priority",
  "audience"}``, one per committed timeline event in the caller's scope, from any node;
  ``audience`` names who in the field the change concerns (zone, technician and user tags);
- ``heartbeat``: ``{"live": true|false}`` every ``RESPONS_SSE_HEARTBEAT_SECONDS``; false
  while this node cannot hear the other nodes (docs/nodes.md);
- ``reload``: updates may have been lost (the reader was too slow, or the node was deaf to
  the other nodes for a while): refetch the whole queue.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from respons.domain.access import Role
from respons.web.access import Principal, access
from respons.web.sse import change_stream

router = APIRouter(prefix="/api/v1", tags=["operator"])


@router.get(
    "/queue/events",
    summary="Live queue changes (server-sent events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An event stream; see the module docs."}},
)
async def queue_events(request: Request, principal: Principal = Depends(access(Role.OPERATOR))):
    in_scope = principal.scope.alarms
    return change_stream(request, lambda change: change.get("municipality_id") in in_scope)
