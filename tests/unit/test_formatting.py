"""One way to write a number per language: the decimal mark and the grouping follow it."""

from decimal import Decimal

from respons.formatting import Formats, duration, grouped, percent, plain


def test_money_is_grouped_with_the_languages_marks():
    assert grouped(1234567.5, 2, "nb") == "1 234 567,50"
    assert grouped(1234567.5, 2, "en") == "1,234,567.50"
    assert Formats("nb").money(None) == "–"
    assert Formats("en").money(Decimal("106.97")) == "106.97"
    assert Formats("nb").money(Decimal("106.97")) == "106,97"


def test_quantities_keep_their_value_and_take_the_languages_decimal_mark():
    assert plain(12, "nb") == "12" and plain(Decimal("12.50"), "nb") == "12,5" and plain(Decimal("12.50"), "en") == "12.5"
    assert plain(Decimal("3"), "en") == "3"
    assert Formats("nb").num(Decimal("0.25")) == "0,25"


def test_percent_and_duration_per_language():
    assert percent(0.4286, "nb") == "42,9 %" and percent(0.4286, "en") == "42.9 %"
    assert duration(1550, "nb") == "25 min 50 s" and duration(45, "en") == "45 s"
