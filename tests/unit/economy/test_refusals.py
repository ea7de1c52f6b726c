"""Every refusal the invoicing and price model engines give is named and has words in both
languages, and the bokmål words are the engine's own text (what the command line prints)."""

from __future__ import annotations

import ast
import inspect
from decimal import Decimal

import pytest

from respons.economy import pricing
from respons.economy.pricing import Deflators, PriceModelError, component_from_data, model_from_data, refuse_unstorable
from respons.economy import invoicing
from respons.economy import price_models
from respons.web import i18n
from respons.economy import pages  # noqa: F401  (registers the words)

NB, EN = i18n.translator("nb"), i18n.translator("en")
REFUSALS = ("PriceModelError", "InvoiceRefused")


def _raised():
    """(module, line, message expression, key) of every refusal raised in the engines and pages."""
    for module in (pricing, invoicing, price_models, pages):
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name in REFUSALS and node.args:
                key = node.args[1].value if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) else None
                yield module.__name__, node.lineno, node.args[0], key


def test_every_refusal_is_named_and_has_words():
    found = list(_raised())
    assert len(found) > 25
    unnamed = [f"{m}:{line}" for m, line, _, key in found if key is None]
    assert not unnamed, f"refusals without a name: {unnamed}"
    missing = sorted({key for *_, key in found if f"economy.refusal.{key}" not in i18n.CATALOGUE})
    assert not missing, f"refusals without words: {missing}"


def test_a_fixed_refusal_says_in_bokmal_what_the_engine_says():
    for module, line, message, key in _raised():
        if isinstance(message, ast.Constant):
            assert NB(f"economy.refusal.{key}") == message.value, f"{module}:{line}"


def _refused(make) -> PriceModelError:
    with pytest.raises(PriceModelError) as refused:
        make()
    return refused.value


@pytest.mark.parametrize("make", [
    lambda: Deflators({}).index(Decimal("1"), base_year=2026, year=2025),
    lambda: Deflators({}).index(Decimal("1"), base_year=2025, year=2026),
    lambda: component_from_data({"kind": "per_event", "price": "1"}),
    lambda: component_from_data({"kind": "budget_share"}),
    lambda: component_from_data({"kind": "per_inhabitant", "price": "1", "due": "15.01"}),
    lambda: component_from_data({"kind": "per_hour"}),
    lambda: component_from_data({"kind": "per_user_month", "price": "1.001"}),
    lambda: component_from_data({"kind": "per_user_month", "price": "1", "share": "2"}),
    lambda: model_from_data([], 2026),
    # A label the invoice line cannot hold, a list that is a string, amounts that are not numbers:
    # each was stored (and failed every run after) or a 500.
    lambda: refuse_unstorable([{"kind": "per_supervision", "price": "1", "label": "x" * 201}]),
    lambda: refuse_unstorable([{"kind": "per_supervision", "price": "1", "label": {"a": 1}}]),
    lambda: refuse_unstorable([{"kind": "per_event", "price": "1", "alarm_types": "gps"}]),
    lambda: refuse_unstorable([{"kind": "per_user_month", "price": "1", "device_kinds": [["x"]]}]),
    lambda: price_models.set_budget(None, centre_id=1, year=2026, name="Drift", amount="NaN", fixed_share="0.4",
                                    actor="user:1", now=None),
    lambda: price_models.set_budget(None, centre_id=1, year=2026, name="Drift", amount="1e20", fixed_share="0.4",
                                    actor="user:1", now=None),
    lambda: price_models.set_budget(None, centre_id=1, year=2026, name="x" * 61, amount="1", fixed_share="0.4",
                                    actor="user:1", now=None),
    lambda: price_models.set_deflator(None, year=2026, percent="NaN", source=None, actor="user:1", now=None),
])
def test_a_refusal_with_values_says_the_same_in_bokmal_and_its_meaning_in_english(make):
    refused = _refused(make)
    key = f"economy.refusal.{refused.key}"
    assert NB(key, **refused.params) == str(refused)
    english = EN(key, **refused.params)
    assert english != str(refused) and "{" not in english


def test_a_run_keeps_the_name_of_the_price_models_refusal():
    refused = invoicing.InvoiceRefused.because(_refused(lambda: model_from_data([], 2026)))
    assert (refused.key, str(refused)) == ("no_components", "En prismodell trenger minst én komponent.")
    assert invoicing.InvoiceRefused.because(ValueError("x")).key is None
