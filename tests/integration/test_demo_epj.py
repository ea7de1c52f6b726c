"""The demo's patient record: the demo people's care plans in a real FHIR server, every
municipality documenting to it, and no hand-made planned visits left (both databases)."""

from __future__ import annotations

import dataclasses

from sqlalchemy import func, select

from respons.demo import epj as demo_epj
from respons.epj.care import CareReader
from respons.epj.endpoints import endpoints_for
from respons.store.db import write_transaction
from respons.store.tables import municipalities, planned_visits, recipients
from tests.chaos.server import free_port
from tests.factories import DEMO_NOW, seed_demo_centre
from tests.fhir_server import require_fhir_server


def test_the_demo_epj_holds_the_demo_peoples_care_plans_and_the_card_reads_them(engine, tmp_path):
    seed_demo_centre(engine, recipients=60, history_days=0)
    seed_file = tmp_path / "demo-epj.json"
    with write_transaction(engine) as conn:
        plans = demo_epj.prepare(conn, now=DEMO_NOW, seed_file=seed_file)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(planned_visits)).scalar_one() == 0
        ids = set(conn.execute(select(municipalities.c.id)).scalars())
        configured = endpoints_for(conn, ids)
        people = conn.execute(select(recipients.c.national_id, recipients.c.given_name, recipients.c.family_name,
                                     recipients.c.birth_date)).all()
    assert set(configured) == ids and {e.base_url for e in configured.values()} == {demo_epj.BASE_URL}
    with_care = [p for p in people if demo_epj.care_plan_entries(demo_epj.Person(*p))]
    assert plans == len(with_care) and 0.2 * len(people) < plans < 0.7 * len(people)

    require_fhir_server()
    port = free_port()
    process = demo_epj.start(seed_file, port=port, log_file=tmp_path / "epj.log")
    try:
        endpoint = configured[next(iter(ids))]
        local = dataclasses.replace(endpoint, base_url=f"http://127.0.0.1:{port}/fhir")
        reader = CareReader()
        someone = with_care[0]
        view = reader.read(local, someone.national_id, now=DEMO_NOW)
        assert view.reachable and view.known_patient and len(view.plans) == 1, view
        plan = view.plans[0]
        assert plan.title == "Besøksplan hjemmetjenesten"
        assert any(a.text.split(",")[0] in {name for name, _, _ in demo_epj.SERVICES} for a in plan.activities)
        nobody = next(p for p in people if p not in with_care)
        assert reader.read(local, nobody.national_id, now=DEMO_NOW).known_patient is False
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_same_person_gets_the_same_care_plan():
    person = demo_epj.Person("01818012345", "Test", "Person", DEMO_NOW.date())
    assert demo_epj.care_plan_entries(person) == demo_epj.care_plan_entries(person)
