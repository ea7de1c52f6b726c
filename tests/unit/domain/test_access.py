from datetime import date

from respons.domain.access import AgreementPeriod, Grant, Role, derive_scope

TODAY = date(2026, 11, 23)
AGREEMENTS = [
    AgreementPeriod(1, date(2025, 1, 1), None),
    AgreementPeriod(2, date(2025, 1, 1), date(2026, 12, 31)),
    AgreementPeriod(3, date(2024, 1, 1), date(2025, 6, 30)),  # ended
    AgreementPeriod(4, date(2027, 1, 1), None),  # not started
]


def scope(*grants):
    return derive_scope(frozenset(grants), AGREEMENTS, today=TODAY)


def test_operator_sees_municipalities_while_their_agreement_is_in_force():
    s = scope(Grant(Role.OPERATOR, None))
    assert s.alarms == {1, 2}
    assert s.registry == set() and s.audit == set()
    assert derive_scope(frozenset({Grant(Role.OPERATOR, None)}), AGREEMENTS, today=date(2027, 1, 1)).alarms == {1, 4}


def test_municipality_administrator_sees_only_its_own_registry():
    s = scope(Grant(Role.MUNICIPALITY_ADMIN, 2))
    assert s.registry == {2} and s.alarms == set() and not s.all_municipalities


def test_roles_in_several_municipalities_add_up():
    s = scope(Grant(Role.MUNICIPALITY_ADMIN, 1), Grant(Role.MUNICIPALITY_ADMIN, 3), Grant(Role.AUDITOR, 3))
    assert s.registry == {1, 3} and s.audit == {3}


def test_centre_auditor_and_host_admin_read_the_whole_audit_log():
    assert scope(Grant(Role.AUDITOR, None)).audit is None
    host = scope(Grant(Role.HOST_ADMIN, None))
    assert host.audit is None and host.all_municipalities and host.registry == {1, 2, 3, 4}
    assert host.alarms == set(), "administering is not answering alarms"


def test_no_grants_no_scope():
    s = scope()
    assert s.alarms == s.registry == s.audit == frozenset()
