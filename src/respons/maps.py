"""The map link on an alarm's card (console and responder app).

Respons runs on a closed network (DESIGN.md): a link to a public map service would not open
in the centre, and would send a recipient's position to a third party. So the link is either
the municipality's own map service, configured as a template (``RESPONS_MAP_URL``, e.g.
``https://kart.example.kommune.no/?lat={lat}&lon={lon}``), or, by default, a ``geo:`` URI
(RFC 5870), which an Android phone's or a workstation's own map application opens (an
iPhone's does not: there, configure the service).
"""

from __future__ import annotations

from string import Formatter
from typing import Any, Mapping
from urllib.parse import quote

PLACEHOLDERS = frozenset({"lat", "lon", "address"})


def _fields(template: str) -> list[tuple[str, str, str | None]]:
    """(name, format, conversion) of each ``{…}`` (ValueError if it is not a valid template)."""
    return [(name, spec, conversion) for _text, name, spec, conversion in Formatter().parse(template)
            if name is not None]


def placeholders(template: str) -> set[str]:
    """The ``{names}`` a template asks for."""
    return {name for name, _spec, _conversion in _fields(template)}


def template_problem(template: str) -> str | None:
    """Why ``template`` cannot be a map service's link, or None. Checked when the node starts,
    so that a card never fails on it: a recipient's position and address go over TLS only,
    and every placeholder is filled in exactly as ``map_link`` writes it."""
    if not template.lower().startswith("https://"):
        return "must be an https:// address (it carries a recipient's position)"
    try:
        fields = _fields(template)
    except ValueError as exc:
        return f"is not a valid template ({exc})"
    names = {name for name, _spec, _conversion in fields}
    if not names or names - PLACEHOLDERS or any(spec or conversion for _name, spec, conversion in fields):
        return "may use only {lat}, {lon} and {address}, as they are (no format or conversion), and must use one"
    if ("lat" in names) != ("lon" in names):
        return "must use {lat} and {lon} together"
    return None


def map_link(template: str | None, *, latitude: float | None, longitude: float | None,
             address: str | None) -> str | None:
    """Where the card's map link goes; None when nothing is known to point at.

    Coordinates are written with five decimals (about a metre) and a full stop, whatever the
    page's language: they are a URL's, not a reader's, numbers. A template is used when it
    asks only for what is known; otherwise the ``geo:`` URI: ``geo:58.14600,7.99500``, or for
    an address without coordinates ``geo:0,0?q=<address>`` (Android's query form, not RFC
    5870's: there ``0,0`` would be a point in the Gulf of Guinea)."""
    values: dict[str, str] = {}
    if latitude is not None and longitude is not None:
        values["lat"], values["lon"] = f"{latitude:.5f}", f"{longitude:.5f}"
    if address:
        values["address"] = quote(address, safe="")
    if template and values and placeholders(template) <= values.keys():
        return template.format(**values)
    if "lat" in values:
        return f"geo:{values['lat']},{values['lon']}"
    if "address" in values:
        return f"geo:0,0?q={values['address']}"
    return None


def card_link(template: str | None, person: Mapping[str, Any]) -> str | None:
    """``map_link`` for a recipient's card (``store/queries.recipient_card``)."""
    return map_link(template, latitude=person["latitude"], longitude=person["longitude"],
                    address=f"{person['address']}, {person['postal_code']} {person['city']}")
