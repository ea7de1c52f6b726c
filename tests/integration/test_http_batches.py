"""The HTTP intake in batches, on SQLite and PostgreSQL: many requests in one unit get what
each would get alone — an alarm (or the one they made before), a 422 for a device the sender
may not use, a 409 for a reused key — and an alarm for a recipient still goes through."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, insert, select

from respons.engine.receiving import Received
from respons.intake.http import AlarmIn, HttpAlarm, HttpAlarms, Rejected
from respons.store.quarantine import RawInput
from respons.store.tables import alarms, devices, quarantine

DEADLINE = timedelta(seconds=60)


def request(device: str | None, municipality_id: int, *, key: str | None = None, kind: str = "button_press",
            recipient_id: int | None = None, at: datetime) -> HttpAlarm:
    alarm = AlarmIn(device=device, recipient_id=recipient_id, type=kind, occurred_at=at, idempotency_key=key)
    return HttpAlarm(alarm, RawInput("http", alarm.model_dump_json().encode()), municipality_id, key, at)


def test_a_batch_of_requests_gets_what_each_would_get_alone(engine, registry, journal):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    home, other = registry.municipality_ids[:2]
    with engine.begin() as conn:
        conn.execute(insert(devices), [
            {"municipality_id": home, "recipient_id": registry.recipient_ids[0], "kind": "safety_alarm",
             "protocol": "http", "identity": f"HB-{n:03d}", "created_at": now} for n in range(40)])
        conn.execute(insert(devices).values(municipality_id=other, recipient_id=registry.recipient_ids[-1],
                                            kind="safety_alarm", protocol="http", identity="HB-ELSEWHERE", created_at=now))
    intake = HttpAlarms(journal, answer_deadline=DEADLINE, clock_future=timedelta(minutes=10),
                        clock_past=timedelta(days=1), rules_cache=None)
    requests = [request(f"HB-{n:03d}", home, key=f"k{n}", at=now) for n in range(40)]
    requests += [
        request("HB-000", home, key="k0", at=now),  # a retry of the first: the same alarm
        request("HB-001", home, key="k1", kind="fall", at=now),  # the key again, for another alarm: 409
        request("HB-NOBODY", home, at=now),  # unknown: 422
        request("HB-ELSEWHERE", home, at=now),  # another municipality's device: 422, as unknown
        request(None, home, recipient_id=registry.recipient_ids[0], at=now),  # for a recipient
    ]

    async def together():
        return await asyncio.gather(*(intake.receive(r) for r in requests))

    results = asyncio.run(together())
    first = results[:40]
    assert all(isinstance(r, Received) and not r.duplicate for r in first)
    assert len({r.alarm_id for r in first}) == 40
    retry, conflict, unknown, elsewhere, for_recipient = results[40:]
    assert isinstance(retry, Received) and retry.duplicate and retry.alarm_id == first[0].alarm_id
    assert isinstance(conflict, Rejected) and (conflict.status, conflict.reason) == (409, "idempotency_conflict")
    assert isinstance(unknown, Rejected) and (unknown.status, unknown.reason) == (422, "unknown_device")
    assert isinstance(elsewhere, Rejected) and elsewhere.message == unknown.message.replace("HB-NOBODY", "HB-ELSEWHERE")
    assert isinstance(for_recipient, Received) and not for_recipient.duplicate
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(alarms).where(alarms.c.source == "http")).scalar()
        kept = sorted(conn.execute(select(quarantine.c.reason)).scalars())
    assert sum(b.batches for b in intake._batches.values()) <= 5, "written in batches, not a unit each"
    assert stored == 41
    assert kept == ["idempotency_conflict", "unknown_device", "unknown_device"]
