"""Every word the console and the shared pages show is in the catalogue, in both languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from respons.domain.lifecycle import Action, CallResult, EventKind, Outcome, State
from respons.web import i18n
from respons.web.console import pages  # noqa: F401  (registers the words)
from respons.web.responder import pages as _responder  # noqa: F401,E501  (base.html names the app)

WEB = Path(pages.__file__).parent.parent
TEMPLATES = list((WEB / "console" / "templates").rglob("*.html")) + list((WEB / "templates").glob("*.html"))
KEY = re.compile(r"""\bt\(\s*['"]([\w.]+)['"]""")


def test_every_literal_key_in_the_console_and_shared_templates_is_registered():
    used = {key for template in TEMPLATES for key in KEY.findall(template.read_text(encoding="utf-8"))}
    assert len(used) > 50, "the pattern finds the keys"
    assert sorted(k for k in used if k not in i18n.CATALOGUE and not k.endswith(".")) == []


@pytest.mark.parametrize(
    "prefix, values",
    [
        ("console.state.", [s.value for s in State]),
        ("console.event.", [k.value for k in EventKind]),
        ("console.outcome.", [o.value for o in Outcome]),
        ("console.result.", [r.value for r in CallResult]),
        ("console.action.", [a.value for a in Action]),
        ("console.priority.", ["1", "2", "3", "4"]),
    ],
)
def test_keys_completed_in_templates_exist_for_every_domain_value(prefix, values):
    missing = [prefix + v for v in values if prefix + v not in i18n.CATALOGUE]
    assert missing == []


def test_every_word_is_filled_in_for_both_languages():
    empty = [key for key, (bokmal, english) in i18n.CATALOGUE.items() if not bokmal.strip() or not english.strip()]
    assert empty == []


def test_the_translator_fills_placeholders_and_shows_an_unknown_key_instead_of_failing():
    assert i18n.translator("nb")("console.taken_by", name="Kari") == "Tatt av Kari"
    assert i18n.translator("en")("console.taken_by", name="Kari") == "Taken by Kari"
    assert i18n.translator("nb")("no.such.key") == "no.such.key"
    with pytest.raises(KeyError):
        i18n.translator("nb", strict=True)("no.such.key")
