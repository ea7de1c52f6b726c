"""Demo users: one per role, with passwords and two-factor secrets that are documented.

These credentials are public (README, `make demo` prints them): they exist only in demo
databases. A production installation creates its users with `respons user create`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from respons.auth import accounts, totp
from respons.domain.access import Role
from respons.store.tables import municipalities, users


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: Role
    municipality_number: str | None  # kommunenummer; None: held at the centre
    password: str
    totp_secret: str | None = None  # administrators must use two-factor log-in


DEMO_USERS = (
    DemoUser("vertsadmin", "Vera Vertsadmin", Role.HOST_ADMIN, None, "demo-vertsadmin-2026", "JBSWY3DPEHPK3PXPDEMOVERT"),
    DemoUser("operator", "Olga Operatør", Role.OPERATOR, None, "demo-operator-2026"),
    # In Farsund, which routes to home care all day (the 4-minute pilot), so the demo shows offers.
    DemoUser("hjemmetjeneste", "Henrik Hjemmetjeneste", Role.RESPONDER, "4206", "demo-hjemmetjeneste-2026"),
    DemoUser("tekniker", "Tor Tekniker", Role.TECHNICIAN, "4204", "demo-tekniker-2026"),
    DemoUser("kommuneadmin", "Kari Kommuneadmin", Role.MUNICIPALITY_ADMIN, "4223", "demo-kommuneadmin-2026", "JBSWY3DPEHPK3PXPDEMOKOMM"),
    DemoUser("revisor", "Rita Revisor", Role.AUDITOR, None, "demo-revisor-2026"),
)


def seed_demo_users(conn: Connection, *, now: datetime) -> None:
    by_number = dict(conn.execute(select(municipalities.c.number, municipalities.c.id)).all())
    for demo in DEMO_USERS:
        if conn.execute(select(users.c.id).where(users.c.username == demo.username)).first():
            continue
        user_id = accounts.create_user(
            conn, username=demo.username, display_name=demo.display_name, password=demo.password, now=now,
            totp_secret=demo.totp_secret,
        )
        municipality_id = by_number[demo.municipality_number] if demo.municipality_number else None
        accounts.grant_role(conn, user_id=user_id, role=demo.role, municipality_id=municipality_id, actor="system:demo", now=now)


def describe_demo_users(*, now: datetime) -> str:
    lines = ["Demo users (passwords are public; demo only):"]
    for demo in DEMO_USERS:
        where = f"kommune {demo.municipality_number}" if demo.municipality_number else "responssenteret"
        line = f"  {demo.username:<15} {demo.password:<26} {demo.role.value:<19} {where}"
        if demo.totp_secret:
            line += f"  TOTP secret {demo.totp_secret} (code now: {totp.code_at(demo.totp_secret, now)})"
        lines.append(line)
    return "\n".join(lines)
