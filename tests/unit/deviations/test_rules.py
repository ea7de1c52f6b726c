"""The deviation lifecycle: every legal step, every refusal, and the committee's summary."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from respons.deviations.rules import (
    DeviationEvent,
    DeviationEventKind as K,
    DeviationState,
    IllegalDeviationChange,
    Severity,
    apply,
    fold,
    start,
    summarise,
)

T = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def ev(kind, minutes=0, **data):
    return DeviationEvent(kind, T + timedelta(minutes=minutes), "user:7", data)


PROPOSED = ev(K.PROPOSED, category="missing_response", title="Hjemmetjenesten tok ikke oppdraget i tide")
REGISTERED = ev(K.REGISTERED, category="cooperation", severity="high", title="Avtalt bemanning ikke fulgt")


def test_a_proposal_is_confirmed_assigned_acted_on_and_closed_with_a_conclusion():
    d = fold([PROPOSED, ev(K.REGISTERED, 1, severity="high"), ev(K.ASSIGNED, 2, to="Leder hjemmetjenesten"),
              ev(K.ACTION, 3, text="Gjennomgått rutiner for natt"), ev(K.CLOSED, 4, conclusion="Ny rutine for overlevering")])
    assert (d.state, d.seq, d.severity, d.assigned_to) == (DeviationState.CLOSED, 5, Severity.HIGH, "Leder hjemmetjenesten")
    assert d.closed_at == T + timedelta(minutes=4) and d.conclusion == "Ny rutine for overlevering"


def test_a_proposal_can_be_dismissed_and_then_nothing_else():
    d = apply(start(PROPOSED), ev(K.DISMISSED, 1, reason="Oppdraget var utført, men ikke meldt"))
    assert d.state is DeviationState.DISMISSED and d.conclusion == "Oppdraget var utført, men ikke meldt"
    for kind, data in ((K.ASSIGNED, {"to": "x"}), (K.ACTION, {"text": "x"}), (K.CLOSED, {"conclusion": "x"}),
                       (K.REGISTERED, {})):
        with pytest.raises(IllegalDeviationChange, match="dismissed"):
            apply(d, ev(kind, 2, **data))


@pytest.mark.parametrize("first, second, message", [
    (REGISTERED, ev(K.DISMISSED), "only a proposed deviation can be dismissed"),
    (REGISTERED, ev(K.REGISTERED), "only a proposed deviation can be confirmed"),
    (PROPOSED, ev(K.ASSIGNED, to="x"), "confirm the deviation before assigning"),
    (PROPOSED, ev(K.CLOSED, conclusion="x"), "confirm the deviation first"),
    (REGISTERED, ev(K.CLOSED), "closed with a conclusion"),
    (REGISTERED, ev(K.ASSIGNED), "Say who handles"),
    (REGISTERED, ev(K.ACTION, text="  "), "Describe what was done"),
])
def test_refusals_say_why(first, second, message):
    with pytest.raises(IllegalDeviationChange, match=message):
        apply(start(first), second)


def test_a_deviation_needs_a_title_and_a_known_category():
    with pytest.raises(IllegalDeviationChange, match="title"):
        start(ev(K.REGISTERED, category="other", title=" "))
    with pytest.raises(IllegalDeviationChange):
        start(ev(K.REGISTERED, category="weather", title="x"))
    with pytest.raises(IllegalDeviationChange):
        start(ev(K.ACTION, text="x"))


def test_the_committees_summary_counts_deviations_and_keeps_dismissed_proposals_apart():
    closed = fold([REGISTERED, ev(K.CLOSED, 1, conclusion="x")])
    open_proposal = start(PROPOSED)
    dismissed = apply(start(PROPOSED), ev(K.DISMISSED, 1))
    s = summarise([(closed, False), (open_proposal, True), (dismissed, True)])
    assert (s.total, s.dismissed, s.proposed_by_system) == (2, 1, 1)
    assert s.by_category == {"cooperation": 1, "missing_response": 1}
    assert s.by_severity == {"high": 1, "medium": 1} and s.by_state == {"closed": 1, "proposed": 1}


def test_a_confirmation_with_an_unknown_severity_and_texts_longer_than_their_columns_are_refused_by_name():
    """The pages send what was typed: an unknown severity was a 500, a longer text a 500 on
    PostgreSQL (the columns' lengths)."""
    proposed = start(PROPOSED)
    with pytest.raises(IllegalDeviationChange) as refused:
        apply(proposed, ev(K.REGISTERED, severity="x"))
    assert refused.value.key == "invalid_value"
    confirmed = apply(proposed, ev(K.REGISTERED))
    with pytest.raises(IllegalDeviationChange) as refused:
        apply(confirmed, ev(K.ASSIGNED, to="x" * 101))
    assert refused.value.key == "too_long"
    assert apply(confirmed, ev(K.ASSIGNED, to="x" * 100)).assigned_to == "x" * 100
    with pytest.raises(IllegalDeviationChange) as refused:
        start(ev(K.REGISTERED, category="other", title="x" * 201))
    assert refused.value.key == "too_long"
