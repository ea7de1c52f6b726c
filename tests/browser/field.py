"""The field in browser tests: an agreement that sends alarms to home care first, and a
responder on a phone."""

from __future__ import annotations

from datetime import datetime, time, timezone

from sqlalchemy import create_engine, delete, insert, select, update

from respons.domain.access import Role
from respons.store.tables import agreement_windows, agreements
from tests.browser.harness import Account
from tests.factories import PASSWORD, add_user

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def routing_with_backup(world, *, backup_minutes: int, resend_seconds: int) -> None:
    """The municipality's agreement: home care first, the centre as backup, all day."""
    engine = create_engine(world.database_url)
    municipality = world.registry.municipality_ids[0]
    with engine.begin() as conn:
        agreement = conn.execute(select(agreements.c.id).where(agreements.c.municipality_id == municipality)).scalar_one()
        conn.execute(delete(agreement_windows).where(agreement_windows.c.agreement_id == agreement))
        conn.execute(insert(agreement_windows).values(
            agreement_id=agreement, service_model=2, weekdays="1234567", starts=time(0), ends=time(0),
            categories=["assistance", "fall", "sensor"], escalation_minutes=backup_minutes))
        conn.execute(update(agreements).where(agreements.c.id == agreement).values(resend_seconds=resend_seconds))
    engine.dispose()


def responder(world, name: str) -> Account:
    engine = create_engine(world.database_url)
    user = add_user(engine, name, [(Role.RESPONDER, world.registry.municipality_ids[0])], now=datetime.now(timezone.utc))
    engine.dispose()
    return Account(user.username, PASSWORD)
