"""Text messages (SMS) behind a small interface.

``send`` writes the message to ``sms_outbox`` inside the caller's transaction, so a message
exists exactly when the event that sends it is committed (no message for a rolled-back
alarm, no alarm whose message was forgotten). A provider then delivers from the outbox.

The only provider today is the local recorder: it marks the message sent and delivers
nothing, which is what a demo or test installation must do (demo phone numbers may belong
to real people). A real provider (an SMS gateway's HTTP API) implements ``Provider.deliver``
and is chosen in settings when it exists.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from respons.store.tables import sms_outbox


class Provider(Protocol):
    name: str

    def deliver(self, to_phone: str, body: str) -> None: ...


class LocalRecorder:
    """Records messages; sends nothing."""

    name = "local-recorder"

    def deliver(self, to_phone: str, body: str) -> None:
        return None


PROVIDER: Provider = LocalRecorder()


def send(conn: Connection, *, to_phone: str, body: str, alarm_id: str | None, municipality_id: int, now: datetime) -> int:
    # The local recorder "delivers" at once; a network provider would deliver after commit
    # from the outbox, and mark the row sent or failed.
    PROVIDER.deliver(to_phone, body)
    return conn.execute(insert(sms_outbox).values(
        created_at=now, alarm_id=alarm_id, municipality_id=municipality_id, to_phone=to_phone, body=body,
        status="sent", provider=PROVIDER.name, sent_at=now,
    )).inserted_primary_key[0]
