"""Documentation completeness per municipality and month on both databases: closed alarms'
documents as the EPJ outbox holds them, in the key figures (API) and on the dashboard."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from respons.domain.access import Role
from respons.settings import Settings
from respons.statistics import service
from respons.statistics.rules import Period
from respons.store.tables import alarms, epj_documents
from respons.web.app import create_app
from tests.factories import T0, FakeClock, epj_centre, people_logged_in


def test_closed_alarms_are_counted_by_how_they_reached_the_record(engine, journal, registry, migrated_url):
    centre = epj_centre(engine, registry, "http://127.0.0.1:9/fhir")
    ids = centre.close(journal, 5)
    with engine.begin() as conn:
        closed = dict(conn.execute(select(alarms.c.id, alarms.c.closed_at).where(alarms.c.id.in_(ids))).all())
        for alarm_id, values in zip(ids, [
                {"state": "delivered", "delivered_at": closed[ids[0]] + timedelta(minutes=2)},
                {"state": "delivered", "delivered_at": closed[ids[1]] + timedelta(minutes=10)},
                {"state": "refused", "attempts": 1, "due_at": None},
                {"attempts": 3},  # waiting after failed tries
                {}]):  # waiting, not tried yet
            if values:
                conn.execute(update(epj_documents).where(epj_documents.c.alarm_id == alarm_id).values(**values))

    request = service.PeriodRequest.containing(centre.municipality_id, Period.MONTH, T0.date())
    with engine.connect() as conn:
        figures = service.documentation(conn, request)
    assert (figures.closed, figures.delivered_within_target, figures.delivered_later, figures.refused, figures.failing,
            figures.waiting, figures.not_documented) == (5, 1, 1, 1, 1, 1, 0)

    clock = FakeClock(T0 + timedelta(days=1))
    app = create_app(Settings(database_url=migrated_url), clock, run_timers=False)
    with people_logged_in(app, engine, clock) as as_user:
        admin = as_user("marit", [(Role.MUNICIPALITY_ADMIN, centre.municipality_id)])
        body = admin.get(f"/api/v1/statistics/key-figures?municipality_id={centre.municipality_id}&period=month"
                         f"&date={T0.date().isoformat()}").json()
        assert body["documentation"]["share_within_target"] == 0.2 and body["documentation"]["refused"] == 1
        page = admin.get(f"/stats?municipality_id={centre.municipality_id}&period=month&date={T0.date().isoformat()}")
        assert '<td data-figure="documented">20,0 % av 5 avsluttede alarmer' in page.text
        assert "avvist: 1 · feiler: 1 · venter: 1" in page.text

        # Another month has none of them.
        other = admin.get(f"/api/v1/statistics/key-figures?municipality_id={centre.municipality_id}&period=month"
                          f"&date={(T0 - timedelta(days=40)).date().isoformat()}").json()
        assert other["documentation"]["closed"] == 0 and other["documentation"]["share_within_target"] is None
