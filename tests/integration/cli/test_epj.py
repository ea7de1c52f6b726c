"""The `respons epj` commands against a real database: an endpoint set and audited, refused
when it cannot work, the status overview, and a re-send."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select

from respons.auth import audit
from respons.cli import app
from respons.store.tables import alarms, audit_log, epj_documents, epj_endpoints
from tests.factories import T0, seed_registry


def test_an_endpoint_is_set_audited_and_replaced(cli, engine):
    registry = seed_registry(engine, municipalities_count=1)
    first = cli.invoke(app, ["epj", "endpoint", "9000", "--base-url", "https://vkp.example/fhir/", "--auth", "mtls",
                             "--cert", "/etc/respons/vkp.crt", "--key", "/etc/respons/vkp.key"])
    assert first.exit_code == 0, first.output
    again = cli.invoke(app, ["epj", "endpoint", "9000", "--base-url", "http://127.0.0.1:8099/fhir", "--auth", "none"])
    assert again.exit_code == 0, again.output
    with engine.connect() as conn:
        row = conn.execute(select(epj_endpoints)).one()
        records = conn.execute(select(audit_log.c.details).where(audit_log.c.action == audit.UPDATE)).scalars().all()
        assert audit.verify(conn).ok
    assert (row.municipality_id, row.base_url, row.auth) == (registry.municipality_ids[0], "http://127.0.0.1:8099/fhir", "none")
    assert [r["base_url"] for r in records if r.get("entity") == "epj_endpoint"] == [
        "https://vkp.example/fhir", "http://127.0.0.1:8099/fhir"]


def test_an_endpoint_that_cannot_work_is_refused(cli, engine):
    seed_registry(engine, municipalities_count=1)
    no_files = cli.invoke(app, ["epj", "endpoint", "9000", "--base-url", "https://vkp.example/fhir", "--auth", "mtls"])
    assert no_files.exit_code == 2 and "certificate and key" in no_files.output
    not_a_url = cli.invoke(app, ["epj", "endpoint", "9000", "--base-url", "vkp.example", "--auth", "none"])
    assert not_a_url.exit_code == 2 and "http(s)://" in not_a_url.output
    no_client = cli.invoke(app, ["epj", "endpoint", "9000", "--base-url", "https://vkp.example/fhir", "--auth", "helseid",
                                 "--key", "/etc/respons/helseid.json"])
    assert no_client.exit_code == 2 and "client id, the token URL" in no_client.output
    unknown = cli.invoke(app, ["epj", "endpoint", "9999", "--base-url", "https://vkp.example/fhir", "--auth", "none"])
    assert unknown.exit_code == 1
    with engine.connect() as conn:
        assert conn.execute(select(epj_endpoints)).first() is None


def test_status_counts_and_a_refused_document_is_sent_again(cli, engine):
    registry = seed_registry(engine, municipalities_count=1)
    municipality = registry.municipality_ids[0]
    with engine.begin() as conn:
        for n, state in enumerate(("delivered", "refused")):
            alarm_id = f"00000000-0000-4000-8000-00000000000{n}"
            conn.execute(insert(alarms).values(id=alarm_id, municipality_id=municipality, type="fall", category="fall",
                                               priority=1, source="http", occurred_at=T0, received_at=T0,
                                               state="closed", seq=5))
            conn.execute(insert(epj_documents).values(alarm_id=alarm_id, municipality_id=municipality, version=5,
                                                      state=state, bundle={}, created_at=T0))
    status = cli.invoke(app, ["epj", "status"])
    assert status.exit_code == 0 and "delivered" in status.output and "refused" in status.output
    nothing = cli.invoke(app, ["epj", "resend", "00000000-0000-4000-8000-000000000000"])
    assert nothing.exit_code == 1, "a delivered document is not sent again"
    resent = cli.invoke(app, ["epj", "resend", "00000000-0000-4000-8000-000000000001"])
    assert resent.exit_code == 0, resent.output
    with engine.connect() as conn:
        row = conn.execute(select(epj_documents).where(epj_documents.c.state == "waiting")).one()
    assert row.alarm_id.endswith("1") and row.due_at > T0 - timedelta(days=1)


def test_a_helseid_endpoint_keeps_its_client_and_token_url(cli, engine):
    seed_registry(engine, municipalities_count=1)
    done = cli.invoke(app, ["epj", "endpoint", "9000", "--base-url", "https://vkp.example/fhir", "--auth", "helseid",
                            "--client-id", "respons-9000", "--token-url", "https://helseid-sts.test.nhn.no/connect/token",
                            "--key", "/etc/respons/helseid.json", "--scope", "nhn:vkp/epj"])
    assert done.exit_code == 0, done.output
    with engine.connect() as conn:
        row = conn.execute(select(epj_endpoints)).one()
        record = conn.execute(select(audit_log.c.details).where(audit_log.c.action == audit.UPDATE)
                              .order_by(audit_log.c.seq.desc())).scalars().first()
    assert (row.auth, row.client_id, row.token_url, row.scope, row.key_file) == (
        "helseid", "respons-9000", "https://helseid-sts.test.nhn.no/connect/token", "nhn:vkp/epj", "/etc/respons/helseid.json")
    assert record["client_id"] == "respons-9000"
