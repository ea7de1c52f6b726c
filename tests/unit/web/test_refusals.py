"""Every refusal an operator or responder can meet has words in both languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import respons
from respons.domain.lifecycle import EventKind, IllegalTransition, NotHolder, State
from respons.web import i18n
from respons.web.refusals import REASONS, refusal_text

SOURCE = Path(respons.__file__).parent
# reason="…" inside an IllegalTransition(…) call (its message may hold parentheses).
RAISED = re.compile(r'IllegalTransition\((?:(?!IllegalTransition\().){0,400}?reason="([a-z_]+)"', re.DOTALL)


def test_every_reason_the_code_raises_has_words():
    raised = set()
    for path in SOURCE.rglob("*.py"):
        raised |= set(RAISED.findall(path.read_text()))
    assert raised, "the domain names its refusals"
    assert raised <= REASONS, f"refusals without words: {sorted(raised - REASONS)}"


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_refusals_are_said_in_the_persons_language(lang):
    t = i18n.translator(lang)
    for kind in EventKind:
        text = refusal_text(t, IllegalTransition(kind, State.CLOSED, "English for the API"))
        assert "English for the API" not in text and "refusal." not in text
    held = refusal_text(t, NotHolder(EventKind.RESOLVED, State.ANSWERED, "user:7"), holder_name="Olga")
    assert "Olga" in held and "user:7" not in held
    for reason in REASONS - {"held_by_colleague"}:
        assert "refusal." not in refusal_text(t, IllegalTransition(EventKind.NOTE, None, "x", reason=reason))


def test_bokmal_and_english_differ():
    exc = IllegalTransition(EventKind.CLOSED, State.ANSWERED, "x")
    assert refusal_text(i18n.translator("nb"), exc) == "Ikke mulig nå: registrer utfall før du lukker."
    assert refusal_text(i18n.translator("en"), exc) == "Not possible now: record an outcome before closing."
