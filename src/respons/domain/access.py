"""Who may see what: roles, grants and the scope derived from them (pure, no I/O).

Every read of personal data is filtered by a ``Scope`` computed here from the caller's
grants and the centre's agreements (DESIGN.md invariant 5). The web layer turns "outside
scope" into 404, never 403, so a caller cannot learn that a record exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Role(StrEnum):
    HOST_ADMIN = "host_admin"  # runs the centre: municipalities, agreements, users
    OPERATOR = "operator"  # answers alarms at the response centre
    RESPONDER = "responder"  # home care: alarms offered to their zone
    TECHNICIAN = "technician"  # technical alarms and devices
    MUNICIPALITY_ADMIN = "municipality_admin"  # its own recipients, devices, zones, staff
    AUDITOR = "auditor"  # read-only: audit log and statistics

    @property
    def is_admin(self) -> bool:
        return self in (Role.HOST_ADMIN, Role.MUNICIPALITY_ADMIN)


# Roles held at the centre rather than in one municipality (grant.municipality_id is None).
CENTRE_ROLES = frozenset({Role.HOST_ADMIN, Role.OPERATOR, Role.AUDITOR})


@dataclass(frozen=True)
class Grant:
    role: Role
    municipality_id: int | None  # None: held at the response centre


@dataclass(frozen=True)
class AgreementPeriod:
    municipality_id: int
    valid_from: date
    valid_to: date | None

    def active_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class Scope:
    """The municipalities whose data the caller may see, per kind of data."""

    alarms: frozenset[int]  # alarms and the recipient data needed to act on them
    registry: frozenset[int]  # recipients, contacts, devices, zones, staff (administration)
    audit: frozenset[int] | None  # None: the whole audit log (centre auditor / host admin)
    all_municipalities: bool = False  # host administrator: manages every municipality
    # Key figures and reports: the host and the centre's auditors see every municipality that
    # has or had an agreement (a yearly report covers ended ones too); a municipality's
    # administrator and auditor see their own.
    statistics: frozenset[int] = frozenset()


def derive_scope(grants: frozenset[Grant], agreements: list[AgreementPeriod], *, today: date) -> Scope:
    """Derive the caller's scope.

    Operators see the municipalities whose agreement sends alarms to the centre, and only
    while the agreement is in force (``today`` is the Oslo calendar date). Municipality
    administrators see their own municipality's registry. Responders and technicians will
    see alarms offered to their zone once routing exists; until then their alarm scope is
    their municipality. Auditors read the audit log of their municipality, or all of it
    when held at the centre.
    """
    served = frozenset(a.municipality_id for a in agreements if a.active_on(today))
    alarms: set[int] = set()
    registry: set[int] = set()
    audit: set[int] | None = set()
    statistics: set[int] = set()
    every = {a.municipality_id for a in agreements}
    all_municipalities = False
    for grant in grants:
        match grant.role:
            case Role.OPERATOR:
                alarms |= served
            case Role.HOST_ADMIN:
                all_municipalities = True
                registry |= every
                statistics |= every
                audit = None
            case Role.MUNICIPALITY_ADMIN:
                if grant.municipality_id is not None:
                    registry.add(grant.municipality_id)
                    statistics.add(grant.municipality_id)
            case Role.RESPONDER | Role.TECHNICIAN:
                if grant.municipality_id is not None:
                    alarms.add(grant.municipality_id)
            case Role.AUDITOR:
                statistics |= every if grant.municipality_id is None else {grant.municipality_id}
                if grant.municipality_id is None:
                    audit = None
                elif audit is not None:
                    audit.add(grant.municipality_id)
    return Scope(
        alarms=frozenset(alarms),
        registry=frozenset(registry),
        audit=None if audit is None else frozenset(audit),
        all_municipalities=all_municipalities,
        statistics=frozenset(statistics),
    )
