"""Calls through voice per municipality and month on both databases, in the key figures and on the dashboard."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from respons.domain.access import Role
from respons.settings import Settings
from respons.statistics import service
from respons.statistics.rules import Period
from respons.store.tables import alarms
from respons.voice import store as voice_store
from respons.web.app import create_app
from tests.factories import T0, FakeClock, epj_centre, people_logged_in


def test_calls_and_talk_time_per_alarm_that_had_calls(engine, journal, registry, migrated_url):
    centre = epj_centre(engine, registry, "http://127.0.0.1:9/fhir")
    first, second = centre.close(journal, 2)
    with engine.begin() as conn:
        when = dict(conn.execute(select(alarms.c.id, alarms.c.received_at).where(alarms.c.id.in_([first, second]))).all())
        for n, (alarm_id, state, talk) in enumerate([(first, "failed", None), (first, "ended", 65), (second, "lost", 30)]):
            start = when[alarm_id] + timedelta(seconds=10 + n)
            voice_store.add(conn, call_id=f"00000000-0000-0000-0000-00000000000{n}", alarm_id=alarm_id,
                            municipality_id=centre.municipality_id, direction="outbound", target_kind="unit",
                            target_label="unit", address="sip:unit@10.0.0.5", operator="user:1", node="n1", now=start)
            voice_store.change(conn, f"00000000-0000-0000-0000-00000000000{n}", state=state,
                               answered_at=start if talk else None,
                               ended_at=start + timedelta(seconds=talk or 5))

    request = service.PeriodRequest.containing(centre.municipality_id, Period.MONTH, T0.date())
    with engine.connect() as conn:
        figures = service.voice_calls(conn, request)
    assert (figures.calls, figures.answered, figures.failed, figures.lost, figures.alarms_with_calls,
            figures.talk_seconds) == (3, 2, 1, 1, 2, 95)

    clock = FakeClock(T0 + timedelta(days=1))
    app = create_app(Settings(database_url=migrated_url), clock, run_timers=False)
    with people_logged_in(app, engine, clock) as as_user:
        admin = as_user("marit", [(Role.MUNICIPALITY_ADMIN, centre.municipality_id)])
        body = admin.get(f"/api/v1/statistics/key-figures?municipality_id={centre.municipality_id}&period=month"
                         f"&date={T0.date().isoformat()}").json()
        assert body["calls"]["calls_per_alarm"] == 1.5 and body["calls"]["talk_seconds_per_alarm"] == 47.5
        page = admin.get(f"/stats?municipality_id={centre.municipality_id}&period=month&date={T0.date().isoformat()}")
        assert '<td data-figure="calls">3 samtaler, 2 besvart, for 2 alarmer' in page.text
