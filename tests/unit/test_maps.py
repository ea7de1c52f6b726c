"""The card's map link: the municipality's own map service, or the device's own map (geo:)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from respons.maps import card_link, map_link
from respons.settings import Settings

KRISTIANSAND = dict(latitude=58.146, longitude=7.995)


def test_without_a_map_service_the_link_is_a_geo_uri_with_five_decimals():
    assert map_link(None, **KRISTIANSAND, address="Testveien 1, 4610 Kristiansand") == "geo:58.14600,7.99500"


def test_an_address_without_coordinates_is_a_geo_query_with_the_address_escaped():
    assert map_link(None, latitude=None, longitude=None, address="Gate 1 & 2, 0150 Oslo") == \
        "geo:0,0?q=Gate%201%20%26%202%2C%200150%20Oslo"


def test_nothing_to_point_at_gives_no_link():
    assert map_link("https://kart.example.no/?q={address}", latitude=None, longitude=None, address="") is None
    assert map_link(None, latitude=58.1, longitude=None, address=None) is None


def test_a_configured_map_service_gets_the_coordinates_with_a_full_stop_whatever_the_language():
    template = "https://kart.example.no/?lat={lat}&lon={lon}&zoom=17"
    assert map_link(template, **KRISTIANSAND, address="x") == "https://kart.example.no/?lat=58.14600&lon=7.99500&zoom=17"


def test_a_template_asking_for_what_is_not_known_falls_back_to_geo():
    by_position = "https://kart.example.no/?lat={lat}&lon={lon}"
    assert map_link(by_position, latitude=None, longitude=None, address="Testveien 1") == "geo:0,0?q=Testveien%201"
    by_address = "https://kart.example.no/sok?q={address}"
    assert map_link(by_address, latitude=None, longitude=None, address="Testveien 1") == \
        "https://kart.example.no/sok?q=Testveien%201"


def test_an_address_cannot_break_out_of_its_query_parameter():
    link = map_link("https://kart.example.no/sok?q={address}&x=1", latitude=None, longitude=None,
                    address="a&b=c#frag/../\"><script>")
    assert link.startswith("https://kart.example.no/sok?q=a%26b%3Dc%23frag%2F..%2F%22%3E%3Cscript%3E&x=1")


def test_card_link_reads_a_recipient_card():
    person = {"latitude": None, "longitude": None, "address": "Testveien 1", "postal_code": "4610",
              "city": "Kristiansand"}
    assert card_link(None, person) == "geo:0,0?q=Testveien%201%2C%204610%20Kristiansand"


@pytest.mark.parametrize("template", [
    "ftp://kart.example.no/{lat}/{lon}",  # not a web address
    "javascript:alert({lat})",
    "http://kart.example.no/?lat={lat}&lon={lon}",  # a position in clear text
    "https://kart.example.no/",  # asks for nothing
    "https://kart.example.no/{lat}/{lon}/{zoom}",  # a name nobody fills in
    "https://kart.example.no/{lat",  # not a template
    "https://kart.example.no/?lat={lat:.2f}&lon={lon}",  # a format the text values cannot take
    "https://kart.example.no/?lat={lat!r}&lon={lon}",  # a conversion
    "https://kart.example.no/?lat={lat}",  # half a position
])
def test_settings_refuse_a_map_template_that_cannot_work(template):
    with pytest.raises(ValidationError, match="map_url"):
        Settings(map_url=template)


def test_every_template_the_settings_take_fills_in_without_failing():
    for template in ("HTTPS://kart.example.no/?lat={lat}&lon={lon}", "https://kart.example.no/sok?q={address}",
                     "https://kart.example.no/{lat}/{lon}?q={address}"):
        taken = Settings(map_url=template).map_url
        assert map_link(taken, **KRISTIANSAND, address="Testveien 1").startswith(("HTTPS://", "https://"))
        assert map_link(taken, latitude=None, longitude=None, address="Testveien 1")


def test_settings_take_a_map_template_and_an_empty_one_means_none():
    assert Settings(map_url=" https://kart.example.no/?lat={lat}&lon={lon} ").map_url == \
        "https://kart.example.no/?lat={lat}&lon={lon}"
    assert Settings(map_url="").map_url is None
