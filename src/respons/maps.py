"""The map link on an alarm's card (console and responder app).

Respons runs on a closed network (DESIGN.md): a link to a public map service would not open
in the centre, and would send a recipient's position to a third party. So the link is either
the municipality's own map service, configured as a template (``RESPONS_MAP_URL``, e.g.
``https://kart.example.kommune.no/?lat={lat}&lon={lon}``), or, by default, a ``geo:`` URI
(RFC 5870), which the phone's or the workstation's own map application opens.
"""

from __future__ import annotations

from string import Formatter
from typing import Any, Mapping
from urllib.parse import quote

PLACEHOLDERS = frozenset({"lat", "lon", "address"})


def placeholders(template: str) -> set[str]:
    """The ``{names}`` a template asks for (ValueError if it is not a valid template)."""
    return {name for _text, name, _spec, _conversion in Formatter().parse(template) if name is not None}


def map_link(template: str | None, *, latitude: float | None, longitude: float | None,
             address: str | None) -> str | None:
    """Where the card's map link goes; None when nothing is known to point at.

    Coordinates are written with five decimals (about a metre) and a full stop, whatever the
    page's language: they are a URL's, not a reader's, numbers. A template is used when it
    asks only for what is known; otherwise the ``geo:`` URI: ``geo:58.14600,7.99500``, or for
    an address without coordinates ``geo:0,0?q=<address>`` (the query form phones' map
    applications understand)."""
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
