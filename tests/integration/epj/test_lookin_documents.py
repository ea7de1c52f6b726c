"""A supervision look-in's document on both databases: queued with the look-in's outcome in
one commit, delivered to the real FHIR server, and read back as an Encounter with the
supervision's code and a Composition with the operator's note."""

from __future__ import annotations

from datetime import date, time, timedelta

from sqlalchemy import select

from respons.digital_supervision import lookins, store
from respons.digital_supervision.outcomes import Outcome
from respons.digital_supervision.plans import AgreedTime, Kind, Plan
from respons.epj import endpoints
from respons.epj import mapping as vkp
from respons.store.db import write_transaction
from respons.store.tables import epj_documents
from tests.factories import T0, FakeClock, drain_deliveries as drain


def test_a_look_in_is_delivered_to_the_epj_as_an_encounter_and_a_composition(engine, journal, registry, epj_down,
                                                                            make_worker):
    municipality, person, scope = registry.municipality_ids[0], registry.recipient_ids[0], frozenset(
        registry.municipality_ids)
    due_local = (T0 + timedelta(hours=1)).time()  # T0 is 03:00 in Oslo: a look-in due at T0
    plan = Plan(kind=Kind.CAMERA, times=(AgreedTime(time(due_local.hour, due_local.minute)),), max_seconds=30,
                consent_by="Brukeren selv", consent_on=date(2026, 1, 1), valid_from=date(2026, 1, 1))
    rules = lookins.Rules()
    journal.run_sync(lambda c: store.add(c, municipality_id=municipality, recipient_id=person, plan=plan, now=T0,
                                         actor="test"))
    journal.run_sync(lambda c: lookins.schedule(c, T0, rules))
    with engine.connect() as conn:
        [lookin] = store.round_of(conn, municipality_ids=[municipality], starts=T0 - timedelta(hours=1),
                                  ends=T0 + timedelta(hours=2))
    journal.run_sync(lambda c: lookins.start(c, lookin["id"], actor="user:7", visible_to=scope, now=T0, rules=rules))
    journal.run_sync(lambda c: lookins.finish(c, lookin["id"], Outcome.SEEN_WELL, note="Sov rolig", actor="user:7",
                                              visible_to=scope, now=T0 + timedelta(seconds=25), rules=rules))
    with engine.connect() as conn:
        document = conn.execute(select(epj_documents)).one()
    assert (document.lookin_id, document.alarm_id, document.state) == (lookin["id"], None, "waiting")

    with write_transaction(engine) as conn:
        endpoints.set_endpoint(conn, municipality, base_url=epj_down.base_url, auth="none", now=T0, actor="test")
    epj_down.start()
    drain(make_worker(FakeClock(T0 + timedelta(minutes=1))))
    encounter_id = document.bundle["entry"][0]["resource"]["identifier"][0]["value"]
    [encounter] = epj_down.search("Encounter", identifier=f"{vkp.UUID_SYSTEM}|{encounter_id}")
    assert encounter["type"][0]["coding"][0]["code"] == "4.26"
    assert encounter["reasonCode"][0]["coding"][0]["code"] == "1"
    composition_id = document.bundle["entry"][1]["resource"]["identifier"]["value"]
    [composition] = epj_down.search("Composition", identifier=f"{vkp.UUID_SYSTEM}|{composition_id}")
    assert "Sov rolig" in str(composition["section"])
    with engine.connect() as conn:
        assert conn.execute(select(epj_documents.c.state)).scalar_one() == "delivered"
