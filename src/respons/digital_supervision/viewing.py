"""The camera's picture for an operator's look-in, as one service for the round's routes: who may
see it and when (``lookins.watchable``), the camera to open (the registry's video source), the
gateway's picture (camera.py), and the audit log — every opening with who, when, why and until
when, every refusal with why (docs/supervision.md, "The camera").

The checks and the audit records are units of work through the journal; the gateway is spoken
to between them, never from inside one. A picture whose opening cannot be recorded is closed
again at once: no look into a home without its record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from sqlalchemy.engine import Connection

from respons.auth import audit
from respons.digital_supervision import lookins, store
from respons.digital_supervision.camera import CameraUnavailable, Cameras, Source
from respons.store.journal import Journal


def _checked(conn: Connection, lookin_id: int, *, actor: str, visible_to: frozenset[int],
             now: datetime) -> tuple[dict[str, Any], dict[str, Any]] | lookins.Refusal:
    row = lookins.visible(conn, lookin_id, visible_to)
    refusal = lookins.watchable(row, actor=actor, now=now)
    device = store.camera_of(conn, row["recipient_id"]) if refusal is None else None
    if refusal is None and device is None:
        refusal = lookins.Refusal("camera_unavailable", {"reason": "no camera with a video source"})
    if refusal is not None:
        if refusal.code != "camera_unavailable":
            audit.append(conn, now=now, actor=actor, action=audit.LOOK_IN_REFUSED, municipality_id=row["municipality_id"],
                         recipient_id=row["recipient_id"], alarm_id=row["alarm_id"], purpose=lookins.PURPOSE,
                         details={"lookin_id": lookin_id, "camera": True, "refused": refusal.code})
        return refusal
    return row, device


async def open_picture(journal: Journal, cameras: Cameras, clock: Callable[[], datetime], lookin_id: int, *,
                       actor: str, visible_to: frozenset[int]) -> dict[str, Any] | lookins.Refusal:
    """The gateway's offer of the camera's picture, or why there is none."""
    now = clock()
    checked = await journal.run(lambda conn: _checked(conn, lookin_id, actor=actor, visible_to=visible_to, now=now))
    if isinstance(checked, lookins.Refusal):
        return checked
    row, device = checked
    try:
        offer = await cameras.open(lookin_id, Source.parse(device["video_source"]),
                                   seconds=(row["view_until"] - now).total_seconds())
    except (CameraUnavailable, ValueError) as exc:
        return lookins.Refusal("camera_unavailable", {"reason": str(exc)})
    try:
        await journal.run(lambda conn: lookins.camera_opened(conn, row, device, actor=actor, now=now))
    except BaseException:
        await cameras.close(lookin_id, shown=False)
        raise
    return offer


async def answer_picture(journal: Journal, cameras: Cameras, clock: Callable[[], datetime], lookin_id: int,
                         sdp: str, *, actor: str, visible_to: frozenset[int]) -> lookins.Refusal | None:
    """The browser's answer to the offer: the picture starts (None), or why not."""
    now = clock()
    checked = await journal.run(lambda conn: _checked(conn, lookin_id, actor=actor, visible_to=visible_to, now=now))
    if isinstance(checked, lookins.Refusal):
        return checked
    try:
        await cameras.answer(lookin_id, {"type": "answer", "sdp": sdp})
    except CameraUnavailable as exc:
        return lookins.Refusal("camera_unavailable", {"reason": str(exc)})
    return None


async def close_picture(engine, cameras: Cameras, lookin_id: int, *, actor: str,
                        visible_to: frozenset[int]) -> lookins.Refusal | None:
    """The operator closes the picture before its time (the outcome, leaving the look-in)."""
    with engine.connect() as conn:
        row = lookins.visible(conn, lookin_id, visible_to)
    if row["started_by"] != actor:
        return lookins.Refusal("not_yours")
    await cameras.close(lookin_id)
    return None
