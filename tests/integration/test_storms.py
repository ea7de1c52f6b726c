"""Power-failure storms on SQLite and PostgreSQL: many AC-loss alarms of one municipality
become one group alarm, so an assistance alarm arriving at the same time stays on top."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select

from respons.domain.alarm_types import alarm_type
from respons.domain.lifecycle import Outcome
from respons.engine import alarms as alarm_service
from respons.engine import receiving
from respons.domain import storms
from respons.intake.dc09.frames import build, parse
from respons.intake.dc09.receiver import handle
from respons.store import queries
from respons.store.tables import alarm_events, alarms, devices, timers
from tests.factories import T0

DEADLINE = timedelta(seconds=60)


def add_panels(engine, municipality_id: int, recipient_id: int, count: int, prefix: str) -> list[int]:
    with engine.begin() as conn:
        return [conn.execute(insert(devices).values(
            municipality_id=municipality_id, recipient_id=recipient_id, kind="safety_alarm", protocol="sia_dc09",
            identity=f"{prefix}{i:03X}", created_at=T0)).inserted_primary_key[0] for i in range(count)]


def ac_loss(engine, device_id: int, municipality_id: int, at, *, key: str | None = None, kind: str = "power_lost"):
    with engine.begin() as conn:
        return receiving.receive(conn, receiving.NewAlarm(
            municipality_id=municipality_id, recipient_id=None, device_id=device_id, alarm_type=alarm_type(kind),
            source="sia_dc09", actor=f"device:{device_id}", occurred_at=at,
            idempotency_scope=f"test:{device_id}" if key else None, idempotency_key=key,
        ), now=at, answer_deadline=DEADLINE)


def queue(engine, registry, at):
    with engine.connect() as conn:
        return queries.queue(conn, now=at, in_municipalities=frozenset(registry.municipality_ids))


def test_the_fifth_ac_loss_in_ten_minutes_groups_the_municipalitys_alarms_under_one(engine, registry):
    municipality, other = registry.municipality_ids[:2]
    panels = add_panels(engine, municipality, registry.recipient_ids[0], 8, "A")
    elsewhere = add_panels(engine, other, registry.recipient_ids[-1], 1, "B")
    for i in range(4):
        ac_loss(engine, panels[i], municipality, T0 + timedelta(minutes=i))
    before = queue(engine, registry, T0 + timedelta(minutes=4))
    assert [row["type"] for row in before] == ["power_lost"] * 4 and all(row["members"] is None for row in before)

    fifth = T0 + timedelta(minutes=5)
    member = ac_loss(engine, panels[4], municipality, fifth, key="ac-5")
    ac_loss(engine, elsewhere[0], other, fifth)
    fall = ac_loss(engine, panels[5], municipality, fifth + timedelta(seconds=1), kind="fall")
    rows = queue(engine, registry, fifth + timedelta(seconds=2))
    assert [(r["type"], r["municipality_id"], r["members"]) for r in rows] == [
        ("fall", municipality, None), ("power_lost", municipality, 5), ("power_lost", other, None)], \
        "one row for the storm; the fall on top; another municipality's AC loss is its own"
    leader = rows[1]
    assert leader["recipient_id"] is None and leader["state"] == "queued"

    with engine.connect() as conn:
        grouped = conn.execute(select(alarms.c.id, alarms.c.group_id).where(
            alarms.c.municipality_id == municipality, alarms.c.type == "power_lost", alarms.c.source != storms.SOURCE)).all()
        live_member_timers = conn.execute(select(timers.c.id).where(
            timers.c.alarm_id.in_([g.id for g in grouped]), timers.c.state.in_(["pending", "claimed"]))).all()
    assert {g.group_id for g in grouped} == {leader["id"]} and len(grouped) == 5
    assert live_member_timers == [], "members wait through their group: no answer clocks of their own"
    assert fall.state.value == "queued"

    later = ac_loss(engine, panels[6], municipality, fifth + timedelta(minutes=30))
    again = ac_loss(engine, panels[4], municipality, fifth + timedelta(minutes=31), key="ac-5")
    assert again.duplicate and again.alarm_id == member.alarm_id, "a retransmit finds its member alarm"
    rows = queue(engine, registry, fifth + timedelta(minutes=31))
    assert [r["members"] for r in rows if r["id"] == leader["id"]] == [6], "later AC loss joins the open storm"
    assert later.alarm_id not in {r["id"] for r in rows}


def test_closing_the_group_alarm_closes_every_member_with_its_outcome(engine, registry):
    municipality = registry.municipality_ids[0]
    panels = add_panels(engine, municipality, registry.recipient_ids[0], 5, "C")
    for i, panel in enumerate(panels):
        ac_loss(engine, panel, municipality, T0 + timedelta(seconds=i))
    (leader,) = queue(engine, registry, T0 + timedelta(seconds=10))
    at = T0 + timedelta(minutes=2)
    with engine.begin() as conn:
        alarm_service.answer(conn, leader["id"], actor="user:1", visible_to=None, now=at)
        alarm_service.resolve(conn, leader["id"], actor="user:1", visible_to=None, outcome=Outcome.TECHNICIAN, note=None, now=at)
        alarm_service.close(conn, leader["id"], actor="user:1", visible_to=None, now=at)
    with engine.connect() as conn:
        members = conn.execute(select(alarms.c.state, alarms.c.outcome).where(alarms.c.group_id == leader["id"])).all()
    assert members == [("closed", "technician")] * 5
    assert queue(engine, registry, at) == []


def test_ac_loss_spread_over_more_than_the_window_is_not_a_storm(engine, registry):
    municipality = registry.municipality_ids[0]
    panels = add_panels(engine, municipality, registry.recipient_ids[0], 6, "D")
    for i, panel in enumerate(panels):
        ac_loss(engine, panel, municipality, T0 + i * (storms.POWER.window / 4 + timedelta(seconds=30)))
    rows = queue(engine, registry, T0 + timedelta(hours=1))
    assert len(rows) == 6 and all(r["members"] is None for r in rows)


def test_a_dc09_ac_loss_storm_and_its_restores(engine, registry):
    municipality = registry.municipality_ids[0]
    add_panels(engine, municipality, registry.recipient_ids[0], 6, "E")
    at = T0
    for i in range(6):
        frame = build("ADM-CID", sequence=f"{i:04d}", account=f"E{i:03X}", data=f"#E{i:03X}|1301 00 000", timestamp=at)
        with engine.begin() as conn:
            handle(conn, parse(frame, now=at), frame, now=at, remote="127.0.0.1")
    rows = queue(engine, registry, at)
    assert [(r["type"], r["members"]) for r in rows] == [("power_lost", 6)]
    restore = build("ADM-CID", sequence="0100", account="E000", data="#E000|3301 00 000", timestamp=at)
    with engine.begin() as conn:
        handle(conn, parse(restore, now=at), restore, now=at, remote="127.0.0.1")
        notes = conn.execute(select(alarms.c.id, devices.c.identity).join(devices, devices.c.id == alarms.c.device_id)
                             .join(alarm_events, alarm_events.c.alarm_id == alarms.c.id)
                             .where(alarms.c.group_id == rows[0]["id"], alarm_events.c.kind == "note")).all()
    assert [n.identity for n in notes] == ["E000"], "the restore is written on the member alarm of that device"
