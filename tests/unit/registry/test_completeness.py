"""The completeness rule: what a recipient's registration lacks for the centre to respond."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from respons.registry.completeness import Gap, RecipientFacts, gaps, is_blank

COMPLETE = RecipientFacts(
    active=True, has_phone=True, contacts=2, contacts_with_phone=1, has_key_box=True, active_devices=1, has_zone=True,
    has_coordinates=True,
)

facts = st.builds(
    RecipientFacts,
    active=st.booleans(),
    has_phone=st.booleans(),
    contacts=st.integers(0, 5),
    contacts_with_phone=st.integers(0, 5),
    has_key_box=st.booleans(),
    active_devices=st.integers(0, 4),
    has_zone=st.booleans(),
    has_coordinates=st.booleans(),
).filter(lambda f: f.contacts_with_phone <= f.contacts)


def test_a_complete_registration_has_no_gaps():
    assert gaps(COMPLETE) == []


def test_each_missing_fact_gives_its_own_gap():
    cases = {
        Gap.NO_ACTIVE_DEVICE: replace(COMPLETE, active_devices=0),
        Gap.NO_ZONE: replace(COMPLETE, has_zone=False),
        Gap.NO_KEY_BOX: replace(COMPLETE, has_key_box=False),
        Gap.NO_CONTACT: replace(COMPLETE, contacts=0, contacts_with_phone=0),
        Gap.NO_REACHABLE_CONTACT: replace(COMPLETE, contacts=2, contacts_with_phone=0),
        Gap.NO_COORDINATES: replace(COMPLETE, has_coordinates=False),
        Gap.NO_PHONE: replace(COMPLETE, has_phone=False),
    }
    assert set(cases) == set(Gap), "every gap has a case"
    for gap, case in cases.items():
        assert gaps(case) == [gap]


def test_an_empty_registration_lists_every_gap_but_one_contact_gap_most_serious_first():
    found = gaps(RecipientFacts())
    assert Gap.NO_CONTACT in found and Gap.NO_REACHABLE_CONTACT not in found
    assert found == [g for g in Gap if g is not Gap.NO_REACHABLE_CONTACT]


@given(facts)
def test_an_inactive_recipient_has_no_gaps(f):
    assert gaps(replace(f, active=False)) == []


@given(facts)
def test_gaps_are_distinct_in_declared_order_and_contact_gaps_exclude_each_other(f):
    found = gaps(f)
    order = list(Gap)
    assert len(found) == len(set(found))
    assert found == sorted(found, key=order.index)
    assert not {Gap.NO_CONTACT, Gap.NO_REACHABLE_CONTACT} <= set(found)


IMPROVEMENTS = {
    "phone": lambda f: replace(f, has_phone=True),
    "key box": lambda f: replace(f, has_key_box=True),
    "zone": lambda f: replace(f, has_zone=True),
    "coordinates": lambda f: replace(f, has_coordinates=True),
    "device": lambda f: replace(f, active_devices=f.active_devices + 1),
    "contact with a phone": lambda f: replace(f, contacts=f.contacts + 1, contacts_with_phone=f.contacts_with_phone + 1),
}


@given(facts, st.sampled_from(sorted(IMPROVEMENTS)))
def test_registering_more_never_adds_a_gap(f, improvement):
    assert set(gaps(IMPROVEMENTS[improvement](f))) <= set(gaps(f))


@given(facts)
def test_registering_everything_closes_every_gap(f):
    for improve in IMPROVEMENTS.values():
        f = improve(f)
    assert gaps(f) == []


def test_blank_text():
    assert is_blank(None) and is_blank("") and is_blank("  \n")
    assert not is_blank("Boks ved inngangsdøren, kode 1234")
