"""The registry pages, on both databases: rendering in both languages, validation shown next
to the fields, saving, scope (404 outside the caller's municipalities), the completeness
report, and the audited read of a recipient's record."""

from __future__ import annotations

import random
from datetime import date
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from respons.auth import audit
from respons.domain.access import Role
from respons.registry.completeness import Gap
from respons.domain.identity import synthetic_national_id
from respons.settings import Settings
from respons.store.tables import audit_log, contacts, devices, recipients, staff, zones
from respons.web import i18n
from respons.web.app import create_app
from tests.factories import add_user, log_in, seed_registry

NB = i18n.translator("nb", strict=True)
EN = i18n.translator("en", strict=True)


# --- reading the HTML ---------------------------------------------------------------------------


class _Elements(HTMLParser):
    """Attributes and text of every element with an id."""

    def __init__(self, html: str):
        super().__init__()
        self.attrs: dict[str, dict[str, str]] = {}
        self.text: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if "id" in attrs:
            self.attrs[attrs["id"]] = attrs
            self.text.setdefault(attrs["id"], "")
        if tag not in ("input", "br", "meta", "link", "img"):
            self._open.append((tag, attrs.get("id")))

    def handle_endtag(self, tag):
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data):
        for _, element_id in self._open:
            if element_id:
                self.text[element_id] += data


def field_problem(html: str, field_id: str) -> str:
    """The message shown next to a field, checking that the field points at it."""
    page = _Elements(html)
    field = page.attrs[field_id]
    assert field.get("aria-invalid") == "true", field
    assert f"{field_id}-error" in field.get("aria-describedby", "").split(), field
    return page.text[f"{field_id}-error"].strip()


def field_value(html: str, field_id: str) -> str:
    return _Elements(html).attrs[field_id].get("value", "")


# --- the world ----------------------------------------------------------------------------------


@pytest.fixture
def registry(engine):
    return seed_registry(engine, municipalities_count=2, recipients_per=2)


@pytest.fixture
def own(registry):
    return registry.municipality_ids[0]


@pytest.fixture
def foreign(registry):
    return registry.municipality_ids[1]


@pytest.fixture
def app(migrated_url, registry, clock):
    return create_app(Settings(database_url=migrated_url, cookie_secure=False), clock, run_timers=False)


@pytest.fixture
def marit(app, engine, clock, own):
    """A municipality administrator of ``own``, using htmx like the pages do."""
    user = add_user(engine, "marit", [(Role.MUNICIPALITY_ADMIN, own)])
    with TestClient(app, base_url="https://testserver") as client:
        client.headers.update({**log_in(client, user, clock), "HX-Request": "true"})
        client.user_id = user.id
        yield client


@pytest.fixture
def hanne(app, engine, clock):
    with TestClient(app, base_url="https://testserver") as client:
        client.headers.update({**log_in(client, add_user(engine, "hanne", [(Role.HOST_ADMIN, None)]), clock), "HX-Request": "true"})
        yield client


def national_id(seed: int) -> str:
    return synthetic_national_id(date(1940, 3, 14), random.Random(seed))


def recipient_form(**changes) -> dict[str, str]:
    form = {"given_name": "Kari", "family_name": "Nordmann", "national_id": national_id(1), "phone": "912 34 567",
            "address": "Storgata 1", "postal_code": "4610", "city": "Kristiansand", "zone_id": "", "latitude": "",
            "longitude": "", "key_box": "", "language": "nb", "response_notes": ""}
    form.update(changes)
    return form


def created_id(response) -> int:
    assert response.status_code == 200, response.text
    target = response.headers["HX-Redirect"]
    assert target.startswith("/admin/registry/recipients/")
    return int(target.removeprefix("/admin/registry/recipients/").split("?")[0])


# --- rendering ----------------------------------------------------------------------------------


@pytest.mark.parametrize("lang, t", [("nb", NB), ("en", EN)])
def test_every_page_renders_in_the_chosen_language(marit, engine, own, registry, lang, t):
    marit.cookies.set(i18n.LANGUAGE_COOKIE, lang)
    recipient_id = registry.recipient_ids[0]
    pages = {
        "/admin/registry": t("admin.overview.title", name="Testkommune 0"),
        f"/admin/registry/{own}": t("admin.overview.counts"),
        f"/admin/registry/{own}/recipients": t("admin.recipients.title"),
        f"/admin/registry/{own}/recipients/new": t("admin.recipients.new"),
        f"/admin/registry/recipients/{recipient_id}": t("admin.contacts.title"),
        f"/admin/registry/{own}/devices": t("admin.devices.add"),
        f"/admin/registry/{own}/zones": t("admin.zones.add"),
        f"/admin/registry/{own}/staff": t("admin.staff.add"),
        f"/admin/registry/{own}/completeness": t("admin.completeness.missing"),
    }
    for path, words in pages.items():
        response = marit.get(path)
        assert response.status_code == 200, (path, response.text[:300])
        assert f'<html lang="{lang}">' in response.text
        assert words in response.text, path
        # Every input is labelled.
        page = _Elements(response.text)
        inputs = [i for i, a in page.attrs.items() if i.startswith(("r-", "c-", "d-", "z-", "s-")) and "-error" not in i
                  and "-hint" not in i and "-summary" not in i]
        for input_id in inputs:
            assert f'for="{input_id}"' in response.text, (path, input_id)


def test_the_host_administrator_chooses_a_municipality(hanne, own, foreign):
    page = hanne.get("/admin/registry")
    assert page.status_code == 200
    assert f'href="/admin/registry/{own}"' in page.text and f'href="/admin/registry/{foreign}"' in page.text
    assert "Person1" in hanne.get(f"/admin/registry/{foreign}/recipients").text


def test_lists_show_names_but_no_national_ids(marit, engine, own):
    with engine.connect() as conn:
        people = conn.execute(select(recipients).where(recipients.c.municipality_id == own)).all()
    page = marit.get(f"/admin/registry/{own}/recipients").text
    for person in people:
        assert f"{person.given_name} {person.family_name}" in page
        assert person.national_id not in page


def test_search_by_name(marit, own):
    page = marit.get(f"/admin/registry/{own}/recipients", params={"q": "test1 person"}).text
    assert "Test1 Person0" in page and "Test0 Person0" not in page
    # "%" is a character to look for, not a wildcard.
    assert "Test0 Person0" not in marit.get(f"/admin/registry/{own}/recipients", params={"q": "%"}).text
    assert "Test0" not in marit.get(f"/admin/registry/{own}/recipients", params={"q": "nobody-called-this"}).text


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("field, value, messages", [
    ("national_id", "12345678901", {"nb": "Ugyldig fødselsnummer: kontrollsifrene stemmer ikke",
                                    "en": "Invalid national identity number: the check digits do not match"}),
    ("national_id", "123", {"nb": "Ugyldig fødselsnummer: det må ha nøyaktig 11 sifre",
                            "en": "Invalid national identity number: it must have exactly 11 digits"}),
    ("phone", "12", {"nb": "Ugyldig telefonnummer", "en": "Invalid phone number"}),
    ("family_name", "", {"nb": "Etternavn må fylles ut", "en": "Family name must be filled in"}),
    ("postal_code", "46", {"nb": "Postnummeret må ha fire sifre", "en": "The postal code must have four digits"}),
])
def test_an_invalid_recipient_is_refused_next_to_the_field_in_the_readers_language(marit, engine, own, field, value,
                                                                                     messages):
    """The engine names each problem; the page says it in the reader's language (the bokmål is
    the engine's text, as the API answers it)."""
    typed = recipient_form(**{field: value})
    for lang in ("nb", "en"):
        message_start = messages[lang]
        marit.cookies.set(i18n.LANGUAGE_COOKIE, lang)
        response = marit.post(f"/admin/registry/{own}/recipients", data=typed)
        assert response.status_code == 422
        assert "HX-Redirect" not in response.headers
        assert field_problem(response.text, f"r-{field}").startswith(message_start)
        summary = _Elements(response.text)
        assert summary.attrs["r-summary"]["role"] == "alert"
        assert summary.text["r-summary"].count(message_start) == 1
        # What was typed is still there.
        assert field_value(response.text, "r-given_name") == "Kari"
        assert field_value(response.text, "r-address") == "Storgata 1"
        assert field_value(response.text, f"r-{field}") == value
    with engine.connect() as conn:
        assert conn.execute(select(recipients.c.id).where(recipients.c.family_name == "Nordmann")).first() is None


def test_a_duplicate_and_a_bad_choice_are_said_in_the_readers_language(marit, own):
    """A conflict by its code, and the valid choices by their names, never their codes."""
    assert marit.post(f"/admin/registry/{own}/zones", data={"code": "E1", "name": "Øst"}).headers["HX-Redirect"]
    person = {"name": "Nina Natt", "role": "captain", "competence": "nurse", "phone": "912 34 568"}
    for lang, duplicate_text, role_text in (
            ("nb", "Kommunen har allerede en sone med denne koden.",
             "Ukjent rolle; gyldige er Operatør, Hjemmetjenesten, Tekniker"),
            ("en", "The municipality already has a zone with this code.",
             "Unknown role; valid ones are Operator, Home care, Technician")):
        marit.cookies.set(i18n.LANGUAGE_COOKIE, lang)
        duplicate = marit.post(f"/admin/registry/{own}/zones", data={"code": "E1", "name": "Øst igjen"})
        assert duplicate.status_code == 409 and field_problem(duplicate.text, "z-code") == duplicate_text
        role = marit.post(f"/admin/registry/{own}/staff", data=person)
        assert role.status_code == 422 and field_problem(role.text, "s-role") == role_text


def test_coordinates_must_be_numbers_and_accept_a_decimal_comma(marit, engine, own):
    refused = marit.post(f"/admin/registry/{own}/recipients", data=recipient_form(latitude="nord"))
    assert refused.status_code == 422
    assert field_problem(refused.text, "r-latitude") == NB("admin.problem.number")
    recipient_id = created_id(marit.post(f"/admin/registry/{own}/recipients", data=recipient_form(latitude="58,1467", longitude="7,9956")))
    with engine.connect() as conn:
        row = conn.execute(select(recipients).where(recipients.c.id == recipient_id)).one()
    assert (row.latitude, row.longitude) == (58.1467, 7.9956)


def test_a_duplicate_national_id_is_shown_at_the_field(marit, engine, own, foreign):
    with engine.connect() as conn:
        taken = conn.execute(select(recipients.c.national_id).where(recipients.c.municipality_id == foreign)).first().national_id
    response = marit.post(f"/admin/registry/{own}/recipients", data=recipient_form(national_id=taken))
    assert response.status_code == 409
    assert field_problem(response.text, "r-national_id")
    assert "Testkommune 1" not in response.text and "Person1" not in response.text


# --- saving --------------------------------------------------------------------------------------


def test_a_valid_recipient_is_saved_and_its_page_read_is_audited(marit, engine, own):
    with engine.connect() as conn:
        zone_id = conn.execute(select(zones.c.id).where(zones.c.municipality_id == own)).scalar()
    typed = recipient_form(zone_id=str(zone_id), key_box="Ved inngangsdøren, kode 2468", response_notes="Hører dårlig")
    recipient_id = created_id(marit.post(f"/admin/registry/{own}/recipients", data=typed))
    with engine.connect() as conn:
        row = conn.execute(select(recipients).where(recipients.c.id == recipient_id)).one()
    assert (row.municipality_id, row.zone_id, row.given_name, row.city) == (own, zone_id, "Kari", "Kristiansand")
    assert row.phone == "+4791234567"
    assert row.key_box == typed["key_box"] and row.active

    def reads():
        with engine.connect() as conn:
            return conn.execute(select(audit_log).where(audit_log.c.action == audit.READ_RECIPIENT,
                                                        audit_log.c.recipient_id == recipient_id)).all()

    assert reads() == []
    page = marit.get(f"/admin/registry/recipients/{recipient_id}?saved=1")
    assert page.status_code == 200
    assert field_value(page.text, "r-national_id") == typed["national_id"]
    assert NB("admin.form.saved") in page.text
    [read] = reads()
    assert read.actor == f"user:{marit.user_id}" and read.municipality_id == own and read.purpose == "administration"


def test_the_recipient_is_updated_from_its_page(marit, engine, own, registry):
    recipient_id = registry.recipient_ids[0]
    page = marit.get(f"/admin/registry/recipients/{recipient_id}").text
    form = _Elements(page)
    typed = {name: form.attrs[f"r-{name}"].get("value", "") for name in
             ("given_name", "family_name", "national_id", "phone", "address", "postal_code", "city", "latitude", "longitude",
              "language")}
    typed.update(city="Nyby", key_box="Boks på verandaen", active=["0", "1"])
    response = marit.post(f"/admin/registry/recipients/{recipient_id}", data=typed)
    assert response.headers["HX-Redirect"].startswith(f"/admin/registry/recipients/{recipient_id}")
    with engine.connect() as conn:
        row = conn.execute(select(recipients).where(recipients.c.id == recipient_id)).one()
        changes = conn.execute(select(audit_log).where(audit_log.c.action == audit.UPDATE,
                                                       audit_log.c.recipient_id == recipient_id)).all()
    assert (row.city, row.key_box, row.active) == ("Nyby", "Boks på verandaen", True)
    assert len(changes) == 1 and "Nyby" not in str(changes[0].details)

    # Unticking "active" (only the hidden "0" is sent) ends the service.
    marit.post(f"/admin/registry/recipients/{recipient_id}", data={**typed, "active": "0"})
    with engine.connect() as conn:
        assert conn.execute(select(recipients.c.active).where(recipients.c.id == recipient_id)).scalar() is False

    refused = marit.post(f"/admin/registry/recipients/{recipient_id}", data={**typed, "phone": "abc"})
    assert refused.status_code == 422
    assert field_problem(refused.text, "r-phone") == "Ugyldig telefonnummer"
    assert field_value(refused.text, "r-city") == "Nyby"


def test_contacts_are_added_on_the_recipient_page(marit, engine, registry):
    recipient_id = registry.recipient_ids[0]
    url = f"/admin/registry/recipients/{recipient_id}/contacts"
    refused = marit.post(url, data={"name": "Ola Nordmann", "relation": "sønn", "phone": "99", "priority": "1"})
    assert refused.status_code == 422
    assert field_problem(refused.text, "c-phone") == "Ugyldig telefonnummer"
    assert field_value(refused.text, "c-name") == "Ola Nordmann"
    no_priority = marit.post(url, data={"name": "Ola Nordmann", "relation": "sønn", "phone": "912 34 567", "priority": "først"})
    assert no_priority.status_code == 422 and field_problem(no_priority.text, "c-priority").startswith("Prioriteten")

    saved = marit.post(url, data={"name": "Ola Nordmann", "relation": "sønn", "phone": "912 34 567", "priority": "1",
                                  "receives_alarms": ["0", "1"]})
    assert saved.headers["HX-Redirect"].startswith(f"/admin/registry/recipients/{recipient_id}")
    with engine.connect() as conn:
        contact = conn.execute(select(contacts).where(contacts.c.recipient_id == recipient_id)).one()
    assert (contact.name, contact.phone, contact.priority, contact.receives_alarms) == ("Ola Nordmann", "+4791234567", 1, True)
    assert "Ola Nordmann" in marit.get(f"/admin/registry/recipients/{recipient_id}").text


def test_devices_zones_and_staff_are_registered(marit, engine, own, registry):
    recipient_id = registry.recipient_ids[0]
    device = {"kind": "fall_sensor", "protocol": "scaip", "identity": "FS-0000001", "recipient_id": str(recipient_id),
              "heartbeat_interval_s": "3600", "heartbeat_grace_s": "300"}
    saved = marit.post(f"/admin/registry/{own}/devices", data=device)
    assert saved.headers["HX-Redirect"].startswith(f"/admin/registry/{own}/devices")
    again = marit.post(f"/admin/registry/{own}/devices", data=device)
    assert again.status_code == 409 and field_problem(again.text, "d-identity")
    bad = marit.post(f"/admin/registry/{own}/devices", data={**device, "identity": "FS-2", "heartbeat_interval_s": "-5"})
    assert bad.status_code == 422 and field_problem(bad.text, "d-heartbeat_interval_s")
    with engine.connect() as conn:
        row = conn.execute(select(devices).where(devices.c.identity == "FS-0000001")).one()
    assert (row.municipality_id, row.recipient_id, row.protocol, row.heartbeat_interval_s) == (own, recipient_id, "scaip", 3600)
    assert "FS-0000001" in marit.get(f"/admin/registry/{own}/devices").text

    assert marit.post(f"/admin/registry/{own}/zones", data={"code": "", "name": "Vest"}).status_code == 422
    assert marit.post(f"/admin/registry/{own}/zones", data={"code": "V1", "name": "Vest"}).headers["HX-Redirect"]
    duplicate = marit.post(f"/admin/registry/{own}/zones", data={"code": "V1", "name": "Vest igjen"})
    assert duplicate.status_code == 409 and field_problem(duplicate.text, "z-code")
    with engine.connect() as conn:
        zone_id = conn.execute(select(zones.c.id).where(zones.c.municipality_id == own, zones.c.code == "V1")).scalar_one()
    assert "Vest" in marit.get(f"/admin/registry/{own}/zones").text

    person = {"name": "Nina Natt", "role": "responder", "competence": "nurse", "phone": "912 34 568", "zone_id": str(zone_id)}
    bad_phone = marit.post(f"/admin/registry/{own}/staff", data={**person, "phone": "1"})
    assert bad_phone.status_code == 422 and field_problem(bad_phone.text, "s-phone") == "Ugyldig telefonnummer"
    assert marit.post(f"/admin/registry/{own}/staff", data=person).headers["HX-Redirect"]
    with engine.connect() as conn:
        row = conn.execute(select(staff).where(staff.c.name == "Nina Natt")).one()
    assert (row.municipality_id, row.zone_id, row.phone) == (own, zone_id, "+4791234568")
    assert "Nina Natt" in marit.get(f"/admin/registry/{own}/staff").text


# --- scope ----------------------------------------------------------------------------------------


def test_another_municipality_is_not_found(marit, engine, own, foreign, registry):
    with engine.connect() as conn:
        theirs = conn.execute(select(recipients).where(recipients.c.municipality_id == foreign)).first()
    for path in (f"/admin/registry/recipients/{theirs.id}", f"/admin/registry/{foreign}", f"/admin/registry/{foreign}/recipients",
                 f"/admin/registry/{foreign}/devices", f"/admin/registry/{foreign}/completeness", "/admin/registry/999999"):
        response = marit.get(path)
        assert response.status_code == 404, path
        assert theirs.family_name not in response.text
    posts = {
        f"/admin/registry/recipients/{theirs.id}": {"city": "Nyby"},
        f"/admin/registry/recipients/{theirs.id}/contacts": {"name": "X", "relation": "y", "phone": "912 34 567", "priority": "1"},
        f"/admin/registry/{foreign}/recipients": recipient_form(national_id="1"),  # invalid too: still 404, not 422
        f"/admin/registry/{foreign}/zones": {"code": "X", "name": "X"},
    }
    for path, data in posts.items():
        assert marit.post(path, data=data).status_code == 404, path
    with engine.connect() as conn:
        assert conn.execute(select(recipients.c.city).where(recipients.c.id == theirs.id)).scalar() == theirs.city
        assert conn.execute(select(audit_log.c.seq).where(audit_log.c.recipient_id == theirs.id)).first() is None
    assert theirs.family_name not in marit.get(f"/admin/registry/{own}/recipients", params={"q": theirs.given_name}).text
    assert theirs.family_name not in marit.get(f"/admin/registry/{own}/completeness").text


def test_a_device_cannot_be_given_to_another_municipalitys_recipient(marit, engine, own, foreign):
    with engine.connect() as conn:
        theirs = conn.execute(select(recipients.c.id).where(recipients.c.municipality_id == foreign)).scalar()
    response = marit.post(f"/admin/registry/{own}/devices",
                          data={"kind": "safety_alarm", "protocol": "http", "identity": "X-1", "recipient_id": str(theirs)})
    assert response.status_code == 422 and field_problem(response.text, "d-recipient_id")


def test_pages_need_a_log_in_and_an_administrator(app, engine, clock, own):
    with TestClient(app, base_url="https://testserver") as client:
        response = client.get(f"/admin/registry/{own}/recipients", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
        log_in(client, add_user(engine, "olga", [(Role.OPERATOR, None)]), clock)
        assert client.get(f"/admin/registry/{own}/recipients").status_code == 403


# --- completeness -------------------------------------------------------------------------------


def test_the_completeness_report_lists_what_is_missing_until_it_is_registered(marit, engine, own):
    with engine.connect() as conn:
        zone_id = conn.execute(select(zones.c.id).where(zones.c.municipality_id == own)).scalar()
    # Everything but a contact person.
    recipient_id = created_id(marit.post(f"/admin/registry/{own}/recipients", data=recipient_form(
        zone_id=str(zone_id), key_box="Under trappa", latitude="58.1", longitude="8.0")))
    assert marit.post(f"/admin/registry/{own}/devices", data={
        "kind": "safety_alarm", "protocol": "http", "identity": "TA-KARI", "recipient_id": str(recipient_id)}).status_code == 200

    def gaps_of(lang="nb"):
        marit.cookies.set(i18n.LANGUAGE_COOKIE, lang)
        report = marit.get(f"/admin/registry/{own}/completeness").text
        row = report.split(f'href="/admin/registry/recipients/{recipient_id}"')
        return None if len(row) == 1 else row[1].split("</tr>")[0]

    row = gaps_of()
    assert row is not None and f'data-gap="{Gap.NO_CONTACT}"' in row and "data-gap" in row
    assert row.count("data-gap") == 1
    assert NB(f"admin.gap.{Gap.NO_CONTACT}") in row
    assert EN(f"admin.gap.{Gap.NO_CONTACT}") in gaps_of("en")
    overview = marit.get(f"/admin/registry/{own}")
    before = int(_Elements(overview.text).text["incomplete-count"])

    marit.post(f"/admin/registry/recipients/{recipient_id}/contacts",
               data={"name": "Ola Nordmann", "relation": "sønn", "phone": "912 34 567", "priority": "1"})
    assert gaps_of() is None
    assert int(_Elements(marit.get(f"/admin/registry/{own}").text).text["incomplete-count"]) == before - 1
    page = marit.get(f"/admin/registry/recipients/{recipient_id}").text
    assert NB("admin.recipient.complete") in page


def test_numbers_beyond_their_columns_are_refused_at_the_field_not_a_500(marit, own, registry):
    """The API bounds its integers (web/bounds.py); the pages sent whatever was typed on, and a
    huge number overflowed the column (or the clock: a heartbeat of 10^12 seconds)."""
    recipient_id = registry.recipient_ids[0]
    device = {"kind": "fall_sensor", "protocol": "scaip", "identity": "FS-0000009", "recipient_id": str(recipient_id),
              "heartbeat_interval_s": "3600", "heartbeat_grace_s": "300"}
    for name, value in (("heartbeat_interval_s", "1000000000000"), ("heartbeat_grace_s", "3000000000"),
                        ("recipient_id", "100000000000000000000")):
        refused = marit.post(f"/admin/registry/{own}/devices", data={**device, name: value})
        assert refused.status_code == 422 and field_problem(refused.text, f"d-{name}"), (name, refused.status_code)
    contact = {"name": "Ola Nordmann", "relation": "sønn", "phone": "912 34 567"}
    for priority in ("40000", str(10**20)):
        refused = marit.post(f"/admin/registry/recipients/{recipient_id}/contacts", data={**contact, "priority": priority})
        assert refused.status_code == 422 and field_problem(refused.text, "c-priority").startswith("Prioriteten")
    staff_member = {"name": "Nina Natt", "role": "responder", "competence": "nurse", "phone": "912 34 568",
                    "zone_id": "100000000000000000000"}
    refused = marit.post(f"/admin/registry/{own}/staff", data=staff_member)
    assert refused.status_code == 422 and field_problem(refused.text, "s-zone_id")


def test_a_zone_form_posted_without_fields_is_refused_not_a_500(marit, own):
    """A form posted with no fields at all reached the engine without its keys (KeyError)."""
    response = marit.post(f"/admin/registry/{own}/zones", data={})
    assert response.status_code == 422
    assert field_problem(response.text, "z-code") and field_problem(response.text, "z-name")
