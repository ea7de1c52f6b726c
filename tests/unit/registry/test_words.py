"""Every word the registry pages show is in the catalogue, in both languages."""

from __future__ import annotations

import re
from pathlib import Path

from respons.registry.completeness import Gap
from respons.web import i18n
from respons.registry import pages# noqa: F401  (registers the words)

TEMPLATES = Path(pages.__file__).parent / "templates" / "admin"


def test_every_literal_key_in_the_admin_templates_is_registered():
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*['"]([\w.]+)['"]""", template.read_text(encoding="utf-8")))
    assert used, "the pattern finds the keys"
    # A key ending in "." is a prefix completed in the template (gaps, staff roles): checked below.
    assert sorted(k for k in used if k not in i18n.CATALOGUE and not k.endswith(".")) == []


def test_every_gap_and_staff_role_has_words_in_both_languages():
    keys = [f"admin.gap.{gap}" for gap in Gap] + [f"admin.staff_role.{role}" for role in ("operator", "responder", "technician")]
    for key in keys:
        bokmal, english = i18n.CATALOGUE[key]
        assert bokmal.strip() and english.strip() and bokmal != english


def test_admin_words_are_filled_in():
    for key, (bokmal, english) in i18n.CATALOGUE.items():
        if key.startswith("admin."):
            assert bokmal.strip() and english.strip(), key


def test_every_alarm_category_has_a_name_on_the_statistics_pages():
    from respons.domain.alarm_types import Category
    from respons.web import i18n
    from respons.statistics import words# noqa: F401

    for language in i18n.LANGUAGES:
        t = i18n.translator(language, strict=True)
        assert all(t(f"category.{c.value}") for c in Category)


def test_every_literal_key_in_the_statistics_templates_is_registered():
    from respons.statistics import pages as statistics_pages

    used = set()
    for template in (Path(statistics_pages.__file__).parent / "templates" / "statistics").glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*['"]([\w.]+)['"]""", template.read_text(encoding="utf-8")))
    assert len(used) > 20, "the pattern finds the keys"
    assert sorted(k for k in used if k not in i18n.CATALOGUE and not k.endswith(".")) == []
    for period in ("day", "week", "month", "half_year", "year"):
        assert f"stats.period.{period}" in i18n.CATALOGUE
