"""Every word the economy pages show is in the catalogue, in both languages."""

from __future__ import annotations

import re
from pathlib import Path

from respons.web import i18n
from respons.economy import pages# noqa: F401  (registers the words)

TEMPLATES = Path(pages.__file__).parent / "templates" / "economy"


def test_every_literal_key_in_the_economy_templates_is_registered():
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*['"]([\w.]+)['"]""", template.read_text(encoding="utf-8")))
    assert len(used) > 40, "the pattern finds the keys"
    # "economy.state." is completed in the template with draft/approved: checked below.
    assert sorted(k for k in used if k not in i18n.CATALOGUE and not k.endswith(".")) == []
    for state in ("draft", "approved"):
        assert f"economy.state.{state}" in i18n.CATALOGUE


def test_economy_words_are_filled_in_and_translated():
    for key, (bokmal, english) in i18n.CATALOGUE.items():
        if key.startswith("economy."):
            assert bokmal.strip() and english.strip(), key
            assert bokmal != english or key in ("economy.sum", "economy.type"), f"{key}: not translated"
