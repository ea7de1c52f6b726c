"""The round page on both databases: the shift's look-ins by municipality and time, a look-in
started and recorded from its panel, a refusal said in the reader's language, two operators on
one look-in, and a look-in of a municipality outside the operator's reach."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select, update

from respons.digital_supervision import lookins, store
from respons.digital_supervision.plans import AgreedTime, Kind, Plan
from respons.domain.access import Role
from respons.settings import Settings
from respons.store.db import write_transaction
from respons.store.tables import agreements, supervision_lookins
from respons.web.app import create_app
from respons.web.i18n import LANGUAGE_COOKIE
from tests.factories import FakeClock, people_logged_in, seed_registry

UTC = timezone.utc
EVENING = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)  # 22:00 in Oslo: the evening shift


@pytest.fixture
def registry(engine):
    return seed_registry(engine, municipalities_count=2, recipients_per=2)


@pytest.fixture
def clock():
    return FakeClock(EVENING)


@pytest.fixture
def app(migrated_url, registry, clock):
    return create_app(Settings(database_url=migrated_url), clock, run_timers=False)


@pytest.fixture
def as_user(app, engine, clock):
    with people_logged_in(app, engine, clock) as as_user:
        yield as_user


def plan_for(engine, registry, index: int, at: time, kind: Kind = Kind.CAMERA) -> None:
    """A plan for the ``index``-th person, scheduled as the sweep would."""
    municipality = registry.municipality_ids[index // 2]
    plan = Plan(kind=kind, times=(AgreedTime(at),), max_seconds=30, consent_by="Brukeren selv",
                consent_on=date(2026, 12, 1), valid_from=date(2026, 12, 1), checklist=("Ligger i sengen",),
                instructions="Se etter at dynen ligger over")
    with write_transaction(engine) as conn:
        store.add(conn, municipality_id=municipality, recipient_id=registry.recipient_ids[index], plan=plan,
                  now=EVENING, actor="user:1")
        lookins.schedule(conn, EVENING, lookins.Rules())


def lookin_ids(engine) -> list[int]:
    with engine.connect() as conn:
        return conn.execute(select(supervision_lookins.c.id).order_by(supervision_lookins.c.due_at)).scalars().all()


def test_the_round_lists_the_shifts_look_ins_by_municipality_and_time(as_user, engine, registry):
    plan_for(engine, registry, 0, time(22, 50))
    plan_for(engine, registry, 1, time(22, 10), Kind.PHONE)
    plan_for(engine, registry, 2, time(22, 30))
    plan_for(engine, registry, 3, time(23, 30))  # the night shift's
    plan_for(engine, registry, 1, time(23, 5))  # the night's, but may begin at 22:55: on both lists
    anne = as_user("anne", [(Role.OPERATOR, None)])
    page = anne.get("/round")
    assert page.status_code == 200
    text = page.text
    assert "Kveldsvakt 04.12. 15:00–23:00" in text
    first, second = text.index("Testkommune 0"), text.index("Testkommune 1")
    assert first < text.index("22:10") < text.index("22:50") < second < text.index("22:30")
    assert "23:30" not in text and "23:05" in text
    night = anne.get("/round?shift=next").text
    assert "23:30" in night and "23:05" in night and "22:10" not in night
    assert "Telefonsamtale" in text and 'id="round"' in text


def test_a_look_in_is_started_and_recorded_from_its_panel(as_user, engine, registry, clock):
    plan_for(engine, registry, 0, time(22, 5))
    [lookin] = lookin_ids(engine)
    anne = as_user("anne", [(Role.OPERATOR, None)])
    panel = anne.get(f"/round/lookins/{lookin}")
    assert 'id="start-button"' in panel.text and "Ligger i sengen" not in panel.text, "the plan shows once started"
    started = anne.post(f"/round/lookins/{lookin}/start")
    assert started.status_code == 200
    assert "Ligger i sengen" in started.text and "Se etter at dynen ligger over" in started.text
    assert 'id="outcome-form"' in started.text and 'value="camera_unavailable"' in started.text
    assert "Startet av Anne" in anne.get(f"/round/rows/{lookin}").text

    clock.now += timedelta(seconds=20)
    missing = anne.post(f"/round/lookins/{lookin}/finish", data={"outcome": ""})
    assert missing.status_code == 422 and "Velg et utfall." in missing.text
    done = anne.post(f"/round/lookins/{lookin}/finish", data={"outcome": "not_seen", "note": "Sengen tom"})
    assert done.status_code == 200
    assert "Ikke sett" in done.text and "Ny sjekk kl. 22:15." in done.text and "Sengen tom" in done.text


def test_a_look_in_before_its_window_is_refused_in_the_readers_language(as_user, engine, registry):
    plan_for(engine, registry, 0, time(22, 30))
    [lookin] = lookin_ids(engine)
    anne = as_user("anne", [(Role.OPERATOR, None)])
    refused = anne.post(f"/round/lookins/{lookin}/start")
    assert refused.status_code == 409
    assert "Innsynet kan bare startes mellom 22:20 og 22:40. Forsøket er logget." in refused.text
    anne.cookies.set(LANGUAGE_COOKIE, "en")
    english = anne.post(f"/round/lookins/{lookin}/start")
    assert "The look-in can only start between 22:20 and 22:40. The attempt is logged." in english.text


def test_of_two_operators_starting_one_look_in_the_second_is_told_a_colleague_has_it(as_user, engine, registry):
    plan_for(engine, registry, 0, time(22, 0))
    [lookin] = lookin_ids(engine)
    anne, bjorn = as_user("anne", [(Role.OPERATOR, None)]), as_user("bjorn", [(Role.OPERATOR, None)])
    assert anne.post(f"/round/lookins/{lookin}/start").status_code == 200
    second = bjorn.post(f"/round/lookins/{lookin}/start")
    assert second.status_code == 409 and "En kollega har allerede startet dette innsynet." in second.text
    assert bjorn.post(f"/round/lookins/{lookin}/finish", data={"outcome": "seen_well"}).status_code == 409


def test_a_look_in_outside_the_operators_municipalities_is_not_found(as_user, engine, registry):
    plan_for(engine, registry, 2, time(22, 0))
    [lookin] = lookin_ids(engine)
    # The second municipality's agreement with the centre ends: its alarms leave the centre's scope.
    with write_transaction(engine) as conn:
        conn.execute(update(agreements).where(agreements.c.municipality_id == registry.municipality_ids[1])
                     .values(valid_to=date(2026, 1, 1)))
    anne = as_user("anne", [(Role.OPERATOR, None)])
    for path in (f"/round/lookins/{lookin}", f"/round/rows/{lookin}"):
        assert anne.get(path).status_code == 404
    assert anne.post(f"/round/lookins/{lookin}/start").status_code == 404
    assert "Testkommune 1" not in anne.get("/round").text


def test_the_camera_is_only_for_whoever_started_the_look_in_and_only_within_its_length(as_user, engine, registry,
                                                                                      clock):
    plan_for(engine, registry, 0, time(22, 0))
    [lookin] = lookin_ids(engine)
    anne, bjorn = as_user("anne", [(Role.OPERATOR, None)]), as_user("bjorn", [(Role.OPERATOR, None)])
    assert anne.post(f"/round/lookins/{lookin}/camera").json() == {"error": "not_yours"}, "not started yet"
    anne.post(f"/round/lookins/{lookin}/start")
    assert bjorn.post(f"/round/lookins/{lookin}/camera").json() == {"error": "not_yours"}
    assert bjorn.post(f"/round/lookins/{lookin}/camera/answer", json={"sdp": "v=0 an answer"}).status_code == 409
    no_camera = anne.post(f"/round/lookins/{lookin}/camera")
    assert no_camera.status_code == 409 and no_camera.json()["error"] == "camera_unavailable"
    clock.now += timedelta(seconds=30)  # the plan's look-in length
    assert anne.post(f"/round/lookins/{lookin}/camera").json() == {"error": "view_over"}


def test_a_cameras_video_source_is_checked_when_it_is_registered(engine, registry):
    from respons.registry.service import Invalid, add_device

    values = {"kind": "camera", "protocol": "http", "identity": "CAM-1", "recipient_id": registry.recipient_ids[0]}
    for good in ("rtp:20410/vp8", "rtp:20410/h264", "rtsp://10.20.0.16/stream1"):
        with write_transaction(engine) as conn:
            add_device(conn, {**values, "identity": f"CAM-{good[-4:]}", "video_source": good},
                       municipality_id=registry.municipality_ids[0], allowed=None, now=EVENING, actor="test")
    for bad in ("rtp:80/vp8", "rtp:20410/mjpeg", "http://10.0.0.1/cam", "rtsp:// space"):
        with pytest.raises(Invalid) as refused, write_transaction(engine) as conn:
            add_device(conn, {**values, "video_source": bad}, municipality_id=registry.municipality_ids[0],
                       allowed=None, now=EVENING, actor="test")
        assert refused.value.problems[0]["field"] == "video_source"


def test_the_alarm_card_offers_a_look_in_after_the_alarm_when_the_plan_allows_it(as_user, engine, registry):
    from respons.engine import receiving
    from respons.domain.alarm_types import alarm_type

    person = registry.recipient_ids[0]
    with write_transaction(engine) as conn:
        alarm_id = receiving.receive(conn, receiving.NewAlarm(registry.municipality_ids[0], person, None,
                                                              alarm_type("bed_exit"), "http", "test", EVENING),
                                     now=EVENING, answer_deadline=timedelta(seconds=60)).alarm_id
    anne = as_user("anne", [(Role.OPERATOR, None)])
    assert 'id="look-in-button"' not in anne.get(f"/console/alarms/{alarm_id}/work").text
    refused = anne.post(f"/round/after-alarm/{alarm_id}")
    assert refused.status_code == 409 and "tillater ikke innsyn etter alarm" in refused.text
    with write_transaction(engine) as conn:
        store.add(conn, municipality_id=registry.municipality_ids[0], recipient_id=person, now=EVENING, actor="user:1",
                  plan=Plan(kind=Kind.CAMERA, times=(), max_seconds=30, consent_by="Brukeren selv",
                            consent_on=date(2026, 12, 1), valid_from=date(2026, 12, 1), event_based=True))
    assert 'id="look-in-button"' in anne.get(f"/console/alarms/{alarm_id}/work").text
    started = anne.post(f"/round/after-alarm/{alarm_id}")
    assert started.status_code == 204
    url = json.loads(started.headers["HX-Trigger"])["respons:open-round"]["url"]
    lookin = int(url.split("=")[1])
    assert anne.post(f"/round/after-alarm/{alarm_id}").status_code == 204, "asked again: the same look-in"
    page = anne.get(url).text
    assert f'data-open-lookin="{lookin}"' in page and "etter alarm" in page
    work = anne.get(f"/console/alarms/{alarm_id}/work").text
    assert "Innsyn" in work and "Kameratilsyn" in work
    assert anne.post("/round/after-alarm/00000000-0000-0000-0000-000000000000").status_code == 404
    anne.post(f"/round/lookins/{lookin}/finish", data={"outcome": "seen_well"})
    card = anne.get(f"/console/alarms/{alarm_id}", headers={"HX-Request": "true"}).text
    looked = card[card.index('id="card-look-ins"'):]
    assert "Siste tilsyn" in looked and "Kameratilsyn" in looked and "Sett, alt vel" in looked
