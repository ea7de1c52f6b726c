"""Minimal registry rows for tests: one centre, municipalities, recipients, devices, staff.

Only synthetic people: national ids come from ``synthetic_national_id`` (month + 80).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import Engine, insert

from respons.domain.identity import synthetic_national_id
from respons.store.tables import centres, devices, municipalities, recipients, staff, zones


class FakeClock:
    """An injectable clock the test moves by hand."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


T0 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


@dataclass
class Registry:
    municipality_ids: list[int]
    recipient_ids: list[int]
    device_identities: list[str]
    operator_id: int
    responder_id: int


def seed_registry(engine: Engine, *, municipalities_count: int = 2, recipients_per: int = 3, now: datetime = T0) -> Registry:
    rng = random.Random(7)
    registry = Registry([], [], [], 0, 0)
    with engine.begin() as conn:
        centre_id = conn.execute(insert(centres).values(name="Testsenteret", created_at=now)).inserted_primary_key[0]
        for m in range(municipalities_count):
            mid = conn.execute(
                insert(municipalities).values(
                    number=f"{9000 + m}",
                    name=f"Testkommune {m}",
                    population=10000,
                    role="host" if m == 0 else "cooperating",
                    centre_id=centre_id,
                    created_at=now,
                )
            ).inserted_primary_key[0]
            registry.municipality_ids.append(mid)
            zid = conn.execute(insert(zones).values(municipality_id=mid, code=f"Z{m}", name=f"Sone {m}")).inserted_primary_key[0]
            for r in range(recipients_per):
                rid = conn.execute(
                    insert(recipients).values(
                        municipality_id=mid,
                        zone_id=zid,
                        national_id=synthetic_national_id(date(1935 + r, 1 + m, 10), rng),
                        given_name=f"Test{r}",
                        family_name=f"Person{m}",
                        birth_date=date(1935 + r, 1 + m, 10),
                        address=f"Testveien {r + 1}",
                        postal_code="4600",
                        city="Testby",
                        created_at=now,
                        updated_at=now,
                    )
                ).inserted_primary_key[0]
                registry.recipient_ids.append(rid)
                identity = f"TA-{m:02d}{r:04d}"
                conn.execute(
                    insert(devices).values(
                        municipality_id=mid,
                        recipient_id=rid,
                        kind="safety_alarm",
                        protocol="http",
                        identity=identity,
                        created_at=now,
                    )
                )
                registry.device_identities.append(identity)
        first = registry.municipality_ids[0]
        registry.operator_id = conn.execute(
            insert(staff).values(municipality_id=first, name="Olga Operatør", role="operator", competence="nurse")
        ).inserted_primary_key[0]
        registry.responder_id = conn.execute(
            insert(staff).values(municipality_id=first, name="Rune Responder", role="responder", competence="nurse")
        ).inserted_primary_key[0]
    return registry
