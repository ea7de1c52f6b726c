"""Hostile and odd input on ``POST /api/v1/alarms``, on both databases (issue 15, item 2).

Every refusal is a specific 4xx, never a 500, and what could be a real alarm is kept in
quarantine with its bytes as they came. A time far from the receive time is still an alarm.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from respons.domain.access import Role
from respons.settings import Settings
from respons.store.tables import alarm_events, alarms, api_tokens, quarantine, timers
from respons.web.app import create_app
from tests.factories import T0, add_user, log_in

OK_TIME = "2026-11-23T01:59:58Z"  # two seconds before the test clock's now (T0)


@pytest.fixture
def admin(engine):
    # Users are made before the app starts (no other writer on SQLite meanwhile).
    return add_user(engine, "hanne", [(Role.HOST_ADMIN, None)])


@pytest.fixture
def operator_user(engine):
    return add_user(engine, "olga", [(Role.OPERATOR, None)])


def make_client(migrated_url, registry, clock, **settings):
    app = create_app(Settings(database_url=migrated_url, journal_window_ms=1, **settings), clock, run_timers=False)
    client = TestClient(app, base_url="https://testserver")
    client.headers["Authorization"] = f"Bearer {registry.intake_tokens[registry.municipality_ids[0]]}"
    return client


@pytest.fixture
def client(migrated_url, registry, clock, admin, operator_user):
    with make_client(migrated_url, registry, clock) as c:
        yield c


def post_raw(client, body: bytes | str, **headers):
    return client.post("/api/v1/alarms", content=body, headers={"content-type": "application/json", **headers})


def alarm_json(registry, **overrides) -> dict:
    body = {"device": registry.device_identities[0], "type": "fall", "occurred_at": OK_TIME}
    body.update(overrides)
    return body


def kept(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(quarantine).order_by(quarantine.c.received_at, quarantine.c.id)).all()


def kept_item(engine, quarantine_id: str):
    with engine.connect() as conn:
        return conn.execute(select(quarantine).where(quarantine.c.id == quarantine_id)).one()


def alarm_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(alarms)).scalar_one()


def assert_refused_and_kept(response, engine, body: bytes, *, status=422, error="invalid_payload", says: str = ""):
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["error"] == error, answer
    assert says in answer["message"], answer["message"]
    rows = kept(engine)
    assert [r.id for r in rows] == [answer["quarantine_id"]]
    assert bytes(rows[0].body) == body  # the bytes as they came
    assert alarm_count(engine) == 0
    return answer, rows[0]


def as_admin(client, admin, clock):
    del client.headers["Authorization"]
    client.headers.update(log_in(client, admin, clock))
    return client


# --- characters no database stores ----------------------------------------------------------


@pytest.mark.parametrize("field", ["device", "idempotency_key", "payload"])
def test_a_lone_surrogate_in_any_string_is_422_naming_the_field_and_kept(client, registry, engine, field):
    template = alarm_json(registry, **({"payload": {"note": "@@"}} if field == "payload" else {field: "@@"}))
    body = json.dumps(template).replace("@@", "TA-\\ud800").encode()  # JSON allows the escape
    response = post_raw(client, body)
    answer, row = assert_refused_and_kept(response, engine, body, says="lone surrogate")
    expected_field = "payload.note" if field == "payload" else field
    assert [p["field"] for p in answer["problems"]] == [expected_field]
    assert row.reason == "invalid_payload" and "\\ud800" in row.message


@pytest.mark.parametrize("field", ["device", "idempotency_key", "payload"])
def test_a_nul_character_in_any_string_is_422_on_both_databases_and_kept(client, registry, engine, field):
    template = alarm_json(registry, **({"payload": {"note": "@@"}} if field == "payload" else {field: "@@"}))
    body = json.dumps(template).replace("@@", "TA-\\u0000-1").encode()
    response = post_raw(client, body)
    answer, _ = assert_refused_and_kept(response, engine, body, says="NUL character")
    assert [p["field"] for p in answer["problems"]] == ["payload.note" if field == "payload" else field]


def test_a_nul_or_surrogate_in_a_key_of_the_payload_is_refused_and_kept(client, registry, engine):
    body = json.dumps(alarm_json(registry, payload={"@@": 1})).replace("@@", "k\\u0000\\udc80").encode()
    answer, row = assert_refused_and_kept(post_raw(client, body), engine, body, says="the key contains")
    assert "\x00" not in row.message  # the message quotes nothing a text column refuses


def test_bytes_that_are_not_utf8_are_422_and_kept_as_they_came(client, registry, engine):
    body = json.dumps(alarm_json(registry)).encode().replace(b"TA-", b"TA-\xff\xfe", 1)
    answer, _ = assert_refused_and_kept(post_raw(client, body), engine, body, says="not valid UTF-8")
    assert "FF at byte offset 15" in answer["message"]
    # An encoded surrogate (CESU-8) is not UTF-8 either.
    surrogate = json.dumps(alarm_json(registry)).encode().replace(b"TA-", b"TA-\xed\xa0\x80", 1)
    second = post_raw(client, surrogate)
    assert second.status_code == 422
    assert bytes(kept_item(engine, second.json()["quarantine_id"]).body) == surrogate


@pytest.mark.parametrize("depth", [1000, 33])
def test_json_nested_deeper_than_the_limit_is_422_and_kept(client, registry, engine, depth):
    # The alarm object is level 1 and its payload level 2: depth - 2 more levels inside.
    inner = "[" * (depth - 2) + "]" * (depth - 2)
    body = json.dumps(alarm_json(registry, payload={"x": "@@"})).replace('"@@"', inner).encode()
    assert_refused_and_kept(post_raw(client, body), engine, body, says="nested deeper than 32 levels")


def test_json_nested_to_the_limit_is_an_alarm(client, registry, engine):
    inner = "[" * 30 + "]" * 30  # level 32 at the innermost list
    body = json.dumps(alarm_json(registry, payload={"x": "@@"})).replace('"@@"', inner).encode()
    assert post_raw(client, body).status_code == 202
    assert kept(engine) == []


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_numbers_json_has_no_place_for_are_422_and_kept(client, registry, engine, number):
    body = json.dumps(alarm_json(registry, payload={"x": "@@"})).replace('"@@"', number).encode()
    assert_refused_and_kept(post_raw(client, body), engine, body, says="not valid JSON")


def test_a_json_alarm_declared_as_another_type_is_422_and_kept(client, registry, engine):
    # Read as FastAPI reads a body: JSON only when the sender says so (or says nothing).
    body = json.dumps(alarm_json(registry)).encode()
    response = post_raw(client, body, **{"content-type": "text/plain"})
    assert_refused_and_kept(response, engine, body, says="(body): Input should be a valid dictionary")
    assert post_raw(client, body, **{"content-type": "application/vnd.vendor+json"}).status_code == 202


def test_a_json_alarm_without_a_content_type_is_422_and_kept(client, registry, engine):
    # FastAPI is strict about it by default, and the intake reads the body as FastAPI would.
    body = json.dumps(alarm_json(registry)).encode()
    response = client.post("/api/v1/alarms", content=body)
    assert "content-type" not in response.request.headers
    assert_refused_and_kept(response, engine, body, says="(body): Input should be a valid dictionary")


@pytest.mark.parametrize("body", [b"[1, 2]", b'"fall"', b"17"])
def test_a_body_that_is_not_an_object_is_422_naming_the_body(client, engine, body):
    assert_refused_and_kept(post_raw(client, body), engine, body,
                            says="(body): Input should be a valid dictionary or object to extract fields from")


def test_header_and_body_problems_are_told_together(client, engine):
    body = json.dumps({"type": 5}).encode()
    answer, _row = assert_refused_and_kept(post_raw(client, body, **{"Idempotency-Key": "k" * 201}), engine, body)
    fields = [p["field"] for p in answer["problems"]]
    assert fields[0] == "header.Idempotency-Key" and "type" in fields and "occurred_at" in fields


def test_a_revoked_token_refused_with_401_but_what_it_sent_is_kept(client, registry, engine):
    token_id = _token_id(engine, registry)
    with engine.begin() as conn:
        conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=T0))
    invalid = json.dumps(alarm_json(registry)).encode().replace(b"TA-", b"TA-\xff", 1)
    response = post_raw(client, invalid)
    answer, row = assert_refused_and_kept(response, engine, invalid, status=401, error="unauthenticated",
                                          says="kept in quarantine")
    assert row.reason == "token_refused" and "authorization" not in {k.lower() for k in row.headers}
    # A well-formed alarm from the revoked token could be real too.
    valid = json.dumps(alarm_json(registry, payload={"n": 2})).encode()
    second = post_raw(client, valid)
    assert second.status_code == 401
    assert bytes(kept_item(engine, second.json()["quarantine_id"]).body) == valid
    # A token nobody was given leaves nothing behind.
    assert post_raw(client, valid, authorization="Bearer rsp_made-up").status_code == 401
    assert len(kept(engine)) == 2


def test_a_token_for_another_purpose_is_403_and_what_it_sent_is_kept(client, registry, engine):
    from respons.auth import accounts

    with engine.begin() as conn:
        _, token = accounts.create_token(conn, name="EPJ", municipality_id=registry.municipality_ids[0],
                                         purpose="integration", actor="test", created_by=None, now=T0)
    body = json.dumps(alarm_json(registry)).encode()
    response = post_raw(client, body, authorization=f"Bearer {token}")
    _, row = assert_refused_and_kept(response, engine, body, status=403, error="forbidden", says="kept in quarantine")
    assert row.reason == "token_refused"


def test_an_idempotency_key_header_over_200_characters_is_422_and_kept(client, registry, engine):
    body = json.dumps(alarm_json(registry)).encode()
    answer, _ = assert_refused_and_kept(post_raw(client, body, **{"Idempotency-Key": "k" * 201}), engine, body)
    assert "Idempotency-Key" in answer["message"]


def _token_id(engine, registry) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(api_tokens.c.id).where(api_tokens.c.municipality_id == registry.municipality_ids[0])
        ).scalar_one()


# --- numbers and times ---------------------------------------------------------------------


def test_a_recipient_id_beyond_the_database_range_is_422_and_kept(client, engine):
    body = json.dumps({"recipient_id": 10**20, "type": "fall", "occurred_at": OK_TIME}).encode()
    answer, _ = assert_refused_and_kept(post_raw(client, body), engine, body)
    assert [p["field"] for p in answer["problems"]] == ["recipient_id"]


@pytest.mark.parametrize("value", [1764000000, "1764000000", 1764000000.5])
def test_a_bare_number_as_occurred_at_is_422_asking_for_iso_text_and_kept(client, registry, engine, value):
    body = json.dumps(alarm_json(registry, occurred_at=value)).encode()
    answer, _ = assert_refused_and_kept(post_raw(client, body), engine, body, says="ISO 8601")
    assert [p["field"] for p in answer["problems"]] == ["occurred_at"]


def _received_event(engine, alarm_id: str) -> dict:
    with engine.connect() as conn:
        return conn.execute(
            select(alarm_events.c.data).where(alarm_events.c.alarm_id == alarm_id, alarm_events.c.kind == "received")
        ).scalar_one()


@pytest.mark.parametrize(
    "occurred_at, direction",
    [
        ("9999-12-31T23:59:59-14:00", "ahead"),  # UTC would be in year 10000
        ("0001-01-01T00:00:00+14:00", "behind"),  # UTC would be in year 0
        ("2999-01-01T00:00:00Z", "ahead"),
        ("0001-01-01T00:00:00Z", "behind"),
        ("2026-11-23T02:11:00Z", "ahead"),  # 11 minutes ahead
        ("2026-11-22T01:59:00Z", "behind"),  # a day and a minute behind
    ],
)
def test_a_time_far_from_the_receive_time_is_an_alarm_marked_clock_suspect(client, registry, engine, clock, operator_user,
                                                                          occurred_at, direction):
    response = client.post("/api/v1/alarms", json=alarm_json(registry, occurred_at=occurred_at))
    assert response.status_code == 202, response.text
    alarm_id = response.json()["alarm_id"]
    suspect = _received_event(engine, alarm_id)["clock_suspect"]
    assert suspect["direction"] == direction and suspect["sent"].startswith(occurred_at[:19])
    # The answer clock runs from the receive time, whatever the device said.
    with engine.connect() as conn:
        due = conn.execute(select(timers.c.due_at).where(timers.c.alarm_id == alarm_id)).scalar_one()
        received_at = conn.execute(select(alarms.c.received_at).where(alarms.c.id == alarm_id)).scalar_one()
    assert received_at == T0 and due == T0 + timedelta(seconds=60)
    # And it reads back.
    del client.headers["Authorization"]
    log_in(client, operator_user, clock)
    detail = client.get(f"/api/v1/alarms/{alarm_id}")
    assert detail.status_code == 200, detail.text
    assert detail.json()["timeline"][0]["data"]["clock_suspect"]["direction"] == direction


@pytest.mark.parametrize("occurred_at", ["2026-11-23T02:09:00Z", "2026-11-22T02:01:00Z", "2026-11-23T03:00:00+01:00"])
def test_a_time_within_the_window_is_not_marked(client, registry, engine, occurred_at):
    response = client.post("/api/v1/alarms", json=alarm_json(registry, occurred_at=occurred_at))
    assert response.status_code == 202
    assert "clock_suspect" not in _received_event(engine, response.json()["alarm_id"])


def test_the_clock_window_is_configurable(migrated_url, registry, engine, clock):
    with make_client(migrated_url, registry, clock, intake_clock_future_seconds=5, intake_clock_past_seconds=5) as c:
        ahead = c.post("/api/v1/alarms", json=alarm_json(registry, occurred_at="2026-11-23T02:00:10Z")).json()
        behind = c.post("/api/v1/alarms", json=alarm_json(registry, occurred_at="2026-11-23T01:59:50Z")).json()
    assert _received_event(engine, ahead["alarm_id"])["clock_suspect"]["seconds"] == 10
    assert _received_event(engine, behind["alarm_id"])["clock_suspect"]["direction"] == "behind"


# --- size --------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_with_its_first_bytes_and_size_kept(client, registry, engine):
    body = json.dumps(alarm_json(registry, payload={"blob": "x" * (10 * 1024 * 1024)})).encode()
    response = post_raw(client, body)
    assert response.status_code == 413, response.text
    answer = response.json()
    assert answer["error"] == "too_large" and f"{len(body)} bytes" in answer["message"] and "65536" in answer["message"]
    rows = kept(engine)
    assert [r.id for r in rows] == [answer["quarantine_id"]]
    assert bytes(rows[0].body) == body[:4096] and rows[0].reason == "too_large"
    assert alarm_count(engine) == 0


def test_the_body_limit_is_configurable(migrated_url, registry, engine, clock):
    body = json.dumps(alarm_json(registry, payload={"blob": "x" * 1500})).encode()
    with make_client(migrated_url, registry, clock, intake_max_bytes=1024) as small:
        assert post_raw(small, body).status_code == 413
    with make_client(migrated_url, registry, clock) as default:
        assert post_raw(default, body).status_code == 202


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_the_limit_is_enforced_while_reading_not_after(client, registry, engine, declared):
    """A 10 MB body offered in 64 KiB chunks: the intake stops asking for more once it is
    over the limit (or at once, when Content-Length says so)."""
    chunk, total = 64 * 1024, 10 * 1024 * 1024
    start = json.dumps(alarm_json(registry, payload={"blob": "@@"})).split("@@")[0].encode()
    pulled = []

    async def receive():
        sent = sum(pulled)
        if sent >= total:
            return {"type": "http.disconnect"}
        piece = (start + b"x" * (chunk - len(start))) if sent == 0 else b"x" * chunk
        pulled.append(len(piece))
        return {"type": "http.request", "body": piece, "more_body": sum(pulled) < total}

    answer = {}

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] = answer.get("body", b"") + message.get("body", b"")

    token = registry.intake_tokens[registry.municipality_ids[0]]
    headers = [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json")]
    if declared:
        headers.append((b"content-length", str(total).encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "https",
        "path": "/api/v1/alarms", "raw_path": b"/api/v1/alarms", "root_path": "", "query_string": b"",
        "headers": headers, "client": ("127.0.0.1", 5000), "server": ("testserver", 443), "state": {},
    }
    client.portal.call(client.app, scope, receive, send)
    assert answer["status"] == 413, answer
    assert sum(pulled) <= (chunk if declared else 64 * 1024 + chunk)
    assert json.loads(answer["body"])["error"] == "too_large"
    message = json.loads(answer["body"])["message"]
    assert (f"{total} bytes" if declared else "more than 65536 bytes") in message
    assert len(bytes(kept(engine)[0].body)) == 4096


def test_a_sender_that_hangs_up_mid_body_gets_no_alarm_and_no_500(client, registry, engine):
    messages = iter([{"type": "http.request", "body": b'{"device": "TA-0', "more_body": True}, {"type": "http.disconnect"}])

    async def receive():
        return next(messages, {"type": "http.disconnect"})

    answer = {}

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]

    token = registry.intake_tokens[registry.municipality_ids[0]]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "https",
        "path": "/api/v1/alarms", "raw_path": b"/api/v1/alarms", "root_path": "", "query_string": b"",
        "headers": [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 5000), "server": ("testserver", 443), "state": {},
    }
    client.portal.call(client.app, scope, receive, send)
    assert answer["status"] == 400
    assert alarm_count(engine) == 0 and kept(engine) == []


# --- what is stored reads back ---------------------------------------------------------------


def test_a_payload_with_odd_but_valid_characters_reads_back(client, registry, engine, clock, operator_user):
    payload = {"emoji": "😀 \\ud83d\\ude00", "ctl": "\u0001\u001f\t", "sep": "\u2028\u2029", "nb": "Ærlig øl på å", "big": 10**30}
    body = json.dumps(alarm_json(registry, payload=payload), ensure_ascii=True)
    response = post_raw(client, body)
    assert response.status_code == 202, response.text
    del client.headers["Authorization"]
    log_in(client, operator_user, clock)
    detail = client.get(f"/api/v1/alarms/{response.json()['alarm_id']}")
    assert detail.status_code == 200, detail.text
    assert detail.json()["payload"] == json.loads(body)["payload"]


def test_a_lone_surrogate_in_the_payload_never_reaches_the_alarm_so_reading_cannot_fail(client, registry, engine):
    body = json.dumps(alarm_json(registry, payload={"note": "@@"})).replace("@@", "\\udc80").encode()
    assert post_raw(client, body).status_code == 422
    assert alarm_count(engine) == 0


# --- the quarantine list --------------------------------------------------------------------


def _quarantine_some(client, registry, n: int) -> list[str]:
    ids = []
    for i in range(n):
        answer = client.post("/api/v1/alarms", json=alarm_json(registry, device=f"TA-NOPE-{i}")).json()
        ids.append(answer["quarantine_id"])
    return ids


def test_the_quarantine_list_is_paged_newest_first_with_a_next_link(client, registry, engine, clock, admin):
    ids = []
    for i in range(7):
        ids += _quarantine_some(client, registry, 1)
        clock.advance(seconds=1)
    as_admin(client, admin, clock)
    seen, url = [], "/api/v1/admin/quarantine?limit=3"
    pages = 0
    while url:
        page = client.get(url)
        assert page.status_code == 200, page.text
        seen += [item["id"] for item in page.json()]
        pages += 1
        link = page.headers.get("link")
        url = link.split(">")[0].lstrip("<") if link else None
    assert pages == 3 and seen == list(reversed(ids))
    too_many = client.get("/api/v1/admin/quarantine?limit=1000")
    assert too_many.status_code == 422
    assert client.get("/api/v1/admin/quarantine?after=nope").status_code == 404


def test_the_quarantine_list_cuts_each_body_and_one_item_is_returned_whole(client, registry, engine, clock, admin):
    # 40 kB of two-byte characters: under the intake's limit, over the list's cut.
    big = json.dumps(alarm_json(registry, device="TA-NOPE", payload={"blob": "å" * 20000}), ensure_ascii=False).encode()
    big_id = post_raw(client, big).json()["quarantine_id"]
    clock.advance(seconds=1)
    binary = b'{"device": "\xff\xfe"}'
    binary_id = post_raw(client, binary).json()["quarantine_id"]
    as_admin(client, admin, clock)

    listed = {item["id"]: item for item in client.get("/api/v1/admin/quarantine").json()}
    cut = listed[big_id]
    assert cut["body_truncated"] is True and cut["body_size"] == len(big) and cut["body_encoding"] == "utf-8"
    assert 4090 <= len(cut["body"].encode()) <= 4096 and big.decode().startswith(cut["body"])
    raw = listed[binary_id]
    assert raw["body_encoding"] == "base64" and base64.b64decode(raw["body"]) == binary and not raw["body_truncated"]

    smaller = client.get("/api/v1/admin/quarantine?body_bytes=100").json()
    assert all(len(item["body"]) <= 100 or item["body_encoding"] == "base64" for item in smaller)

    whole = client.get(f"/api/v1/admin/quarantine/{big_id}")
    assert whole.status_code == 200
    assert whole.json()["body"] == big.decode() and whole.json()["body_truncated"] is False
    assert client.get("/api/v1/admin/quarantine/nope").status_code == 404


def test_an_empty_body_is_422_kept_and_listed(client, registry, engine, clock, admin):
    answer, _ = assert_refused_and_kept(post_raw(client, b""), engine, b"", says="the body is empty")
    as_admin(client, admin, clock)
    listed = client.get("/api/v1/admin/quarantine")
    assert listed.status_code == 200, listed.text
    assert listed.json()[0]["body"] == "" and listed.json()[0]["body_size"] == 0
    assert client.get(f"/api/v1/admin/quarantine/{answer['quarantine_id']}").json()["body"] == ""


def test_one_quarantine_item_is_for_host_administrators_only(client, registry, clock, operator_user):
    qid = _quarantine_some(client, registry, 1)[0]
    del client.headers["Authorization"]
    log_in(client, operator_user, clock)
    assert client.get(f"/api/v1/admin/quarantine/{qid}").status_code == 403


# --- the console ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang, words", [("nb", "Klokke usikker"), ("en", "Clock suspect")])
def test_the_console_card_marks_a_suspect_clock(client, registry, engine, clock, operator_user, lang, words):
    suspect = client.post("/api/v1/alarms", json=alarm_json(registry, occurred_at="2999-01-01T00:00:00Z")).json()
    fine = client.post("/api/v1/alarms", json=alarm_json(registry, type="button_press")).json()
    del client.headers["Authorization"]
    client.cookies.set("respons_lang", lang)
    log_in(client, operator_user, clock)
    card = client.get(f"/console/alarms/{suspect['alarm_id']}", headers={"HX-Request": "true"})
    assert card.status_code == 200
    assert 'id="clock-suspect"' in card.text and words in card.text and "2999-01-01" in card.text
    plain = client.get(f"/console/alarms/{fine['alarm_id']}", headers={"HX-Request": "true"})
    assert plain.status_code == 200 and words not in plain.text and 'id="clock-suspect"' not in plain.text

