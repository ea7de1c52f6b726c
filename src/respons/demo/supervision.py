"""The demo's digital supervision (docs/supervision.md): three people with a supervision camera
looked in on every hour (at :00, :20 and :40, so a look-in is always near), and a night round of
sensor checks and phone calls for thirty more, so `/round` has a shift to work on from the
first minute. The cameras are the simulated ones `respons serve --demo-voice` starts
(demo/camera.py) on DEMO_CAMERA_PORTS; nothing leaves the machine."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from respons.digital_supervision import store
from respons.digital_supervision.plans import AgreedTime, Kind, Plan
from respons.store.tables import devices, municipalities, recipients

DEMO_CAMERA_PORTS = (20700, 20702, 20704)
CHECKLIST = ("Ligger i sengen", "Puster rolig", "Ingen tegn til fall")
NIGHT = (time(23, 0), time(1, 0), time(3, 0), time(5, 0))


def seed_supervision(conn: Connection, *, now: datetime) -> int:
    """Plans (and the cameras) for the first municipality's first 33 people; returns the plans."""
    first = conn.execute(select(municipalities.c.id).order_by(municipalities.c.id).limit(1)).scalar()
    people = conn.execute(select(recipients.c.id).where(recipients.c.municipality_id == first)
                          .order_by(recipients.c.id).limit(3 + 30)).scalars().all()
    start = now.date() - timedelta(days=1)
    consent = start - timedelta(days=14)
    plans = 0
    for n, (person, port) in enumerate(zip(people[:3], DEMO_CAMERA_PORTS)):
        conn.execute(insert(devices).values(
            municipality_id=first, recipient_id=person, kind="camera", protocol="http", identity=f"CAM-{n + 1:07d}",
            video_source=f"rtp:{port}/vp8", active=True, created_at=now))
        minute = (0, 20, 40)[n]
        plans += _plan(conn, first, person, now, Kind.CAMERA, [time(h, minute) for h in range(24)], start, consent,
                       event_based=True, instructions="Se etter at brukeren ligger trygt og puster rolig.")
    for n, person in enumerate(people[3:]):
        at = NIGHT[n % len(NIGHT)]
        shifted = time(at.hour, (n // len(NIGHT)) * 7 % 60)
        plans += _plan(conn, first, person, now, Kind.PHONE if n % 3 == 0 else Kind.SENSOR, [shifted], start, consent)
    return plans


def _plan(conn: Connection, municipality_id: int, person: int, now: datetime, kind: Kind, times: list[time],
          start: date, consent: date, *, event_based: bool = False, instructions: str = "") -> int:
    store.add(conn, municipality_id=municipality_id, recipient_id=person, now=now, actor="system:demo", plan=Plan(
        kind=kind, times=tuple(AgreedTime(t) for t in times), max_seconds=30, consent_by="Brukeren selv",
        consent_on=consent, valid_from=start, event_based=event_based, checklist=CHECKLIST,
        instructions=instructions))
    return 1
