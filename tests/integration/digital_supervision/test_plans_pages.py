"""The supervision plans page, on both databases: a municipality administrator records a plan
from the form, a refused form keeps what was typed and says why in the reader's language, and
the page belongs to the person's own municipality."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from respons.domain.access import Role
from respons.settings import Settings
from respons.web.app import create_app
from respons.web.i18n import LANGUAGE_COOKIE
from tests.factories import add_user, log_in, seed_registry

FORM = {"kind": "camera", "times": "23:00\n03:00 1-5", "max_seconds": "30", "event_based": "1",
        "checklist": "Ligger i sengen\nPuster rolig", "instructions": "", "consent_by": "Brukeren selv",
        "consent_on": "2026-11-30", "valid_from": "2026-12-01", "valid_to": ""}


@pytest.fixture
def registry(engine):
    return seed_registry(engine, municipalities_count=2, recipients_per=1)


@pytest.fixture
def marit(migrated_url, registry, clock, engine):
    app = create_app(Settings(database_url=migrated_url), clock, run_timers=False)
    with TestClient(app, base_url="https://testserver") as client:
        client.headers.update(log_in(client, add_user(engine, "marit", [(Role.MUNICIPALITY_ADMIN,
                                                                         registry.municipality_ids[0])]), clock))
        yield client


def page(recipient_id: int) -> str:
    return f"/admin/registry/recipients/{recipient_id}/supervision"


def test_a_plan_recorded_from_the_form_is_listed_on_the_page(marit, registry):
    person = registry.recipient_ids[0]
    assert "Ingen tilsynsplan er registrert." in marit.get(page(person)).text
    saved = marit.post(page(person), data=FORM, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].startswith(page(person) + "?saved=")
    shown = marit.get(saved.headers["location"]).text
    assert "Tilsynsplanen er lagret." in shown
    assert "23:00 (alle dager)" in shown and "03:00 (1, 2, 3, 4, 5)" in shown and "Brukeren selv (2026-11-30)" in shown
    assert 'id="supervision-link"' in marit.get(f"/admin/registry/recipients/{person}").text


def test_a_refused_form_keeps_what_was_typed_and_says_why_in_the_readers_language(marit, registry):
    typed = {**FORM, "times": "22:00\n22:10\nkl 7", "max_seconds": "mange", "valid_from": "1. desember"}
    refused = marit.post(page(registry.recipient_ids[0]), data=typed)
    assert refused.status_code == 422
    assert "Ugyldig klokkeslett «kl 7»" in refused.text and "Må være et helt tall" in refused.text
    assert "Ugyldig dato: bruk ÅÅÅÅ-MM-DD" in refused.text and "1. desember" in refused.text
    # Readable, but not a plan that can be followed: the service's reasons, in English on request.
    marit.cookies.set(LANGUAGE_COOKIE, "en")
    english = marit.post(page(registry.recipient_ids[0]), data={**FORM, "times": "22:00\n22:10"})
    marit.cookies.delete(LANGUAGE_COOKIE)
    assert english.status_code == 422
    assert "The times 22:00 and 22:10 are too close" in english.text and "Tidspunktene" not in english.text
    assert "Ingen tilsynsplan er registrert." in refused.text  # nothing was saved


def test_another_municipalitys_person_is_not_found_and_nothing_is_read_from_the_form(marit, registry):
    foreign = registry.recipient_ids[1]
    assert marit.get(page(foreign)).status_code == 404
    assert marit.post(page(foreign), data=FORM).status_code == 404


def test_a_plan_is_ended_from_its_row_and_a_date_in_the_past_is_refused_beside_it(marit, registry):
    person = registry.recipient_ids[0]
    marit.post(page(person), data=FORM)
    shown = marit.get(page(person)).text
    plan_id = int(shown.split('id="plan-')[1].split('"')[0])
    refused = marit.post(f"{page(person)}/{plan_id}/end", data={"valid_to": "2020-01-01"})
    assert refused.status_code == 422 and "kan ikke avsluttes tilbake i tid" in refused.text
    assert f'id="end-{plan_id}-error"' in refused.text and 'value="2020-01-01"' in refused.text
    ended = marit.post(f"{page(person)}/{plan_id}/end", data={"valid_to": FORM["valid_from"]}, follow_redirects=False)
    assert ended.status_code == 303
    assert "Planen er avsluttet." in marit.get(ended.headers["location"]).text



def test_the_persons_page_shows_their_look_ins_as_they_happened(marit, registry, engine):
    from datetime import datetime, timedelta, timezone

    from respons.digital_supervision import lookins, store
    from respons.digital_supervision.rounds import Reason, Window
    from respons.digital_supervision.plans import Kind
    from respons.store.db import write_transaction

    person = registry.recipient_ids[0]
    assert "Ingen tilsyn er utført ennå." in marit.get(page(person)).text
    marit.post(page(person), data=FORM, follow_redirects=False)
    at = datetime(2026, 12, 1, 22, 0, tzinfo=timezone.utc)
    with write_transaction(engine) as conn:
        [plan] = store.of_recipient(conn, person)
        store.add_lookins(conn, [lookins.new_lookin(plan, Reason.PLANNED, Kind.CAMERA, at, at, Window()) | {
            "state": "done", "outcome": "not_seen", "started_by": "user:9", "started_at": at, "finished_by": "user:9",
            "finished_at": at + timedelta(seconds=30)}])
        store.add_lookins(conn, [lookins.new_lookin(plan, Reason.PLANNED, Kind.CAMERA, at + timedelta(hours=4), at,
                                                    Window()) | {"state": "missed"}])
    shown = marit.get(page(person)).text
    history = shown[shown.index('id="history"'):]
    assert "01.12.2026 23:00" in history and "Ikke sett" in history and "Ikke utført: alarm sendt" in history
