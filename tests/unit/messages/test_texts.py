"""What an SMS is on the wire (GSM 03.38 / UCS-2, concatenation) and what a reply says."""

from __future__ import annotations

import pytest
from aiosmpplib.codec import GSM7BitCodec

from respons.messages import texts

GSM = GSM7BitCodec()


def _text_of(encoded: texts.Encoded) -> str:
    """Decode the parts back the way a handset would: strip each header, join, decode."""
    payload = b"".join(p[6:] if encoded.split else p for p in encoded.parts)
    return GSM.decode(payload)[0] if encoded.data_coding == texts.GSM_DEFAULT else payload.decode("utf-16-be")


def test_norwegian_letters_are_in_the_gsm_default_alphabet():
    encoded = texts.encode("Blåbærsyltetøy til Ærlige Øystein og Åse", 1)
    assert encoded.data_coding == texts.GSM_DEFAULT and not encoded.split
    assert _text_of(encoded) == "Blåbærsyltetøy til Ærlige Øystein og Åse"


def test_a_typographic_dash_or_a_sami_letter_makes_the_message_ucs2():
    assert texts.data_coding("Fall – Storgata 1") == texts.UCS2
    assert texts.data_coding("Čáhcegeasáš") == texts.UCS2
    assert texts.encode("Fall – Storgata", 1).parts[0] == "Fall – Storgata".encode("utf-16-be")


@pytest.mark.parametrize("length, parts", [(160, 1), (161, 2), (306, 2), (307, 3)])
def test_gsm_text_fits_160_septets_or_parts_of_153(length, parts):
    assert texts.parts_needed("æ" * length) == parts


@pytest.mark.parametrize("length, parts", [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_text_fits_70_characters_or_parts_of_67(length, parts):
    assert texts.parts_needed("–" * length) == parts


def test_extension_characters_count_two_septets_and_are_never_split_from_their_escape():
    # 80 euro signs are 160 septets: one SMS exactly; one more character makes it two parts.
    assert texts.parts_needed("€" * 80) == 1
    text = "a" + "€" * 80
    encoded = texts.encode(text, 9)
    assert encoded.split and len(encoded.parts) == 2
    for part in encoded.parts:
        body = part[6:]
        assert len(body) <= 153 and not body.endswith(b"\x1b"), "an escape left at the end of a part"
    assert _text_of(encoded) == text


def test_parts_carry_a_concatenation_header_with_reference_total_and_sequence():
    encoded = texts.encode("ø" * 400, 300)
    assert [p[:6] for p in encoded.parts] == [bytes((5, 0, 3, 300 % 256, 3, i)) for i in (1, 2, 3)]
    assert all(len(p) <= 6 + 153 for p in encoded.parts)


def test_a_character_outside_the_bmp_is_not_split_between_ucs2_parts():
    text = "x" * 66 + "🚑" + "y" * 10
    encoded = texts.encode(text, 1)
    assert encoded.data_coding == texts.UCS2 and len(encoded.parts) == 2
    assert encoded.parts[0][6:].decode("utf-16-be") == "x" * 66  # the ambulance goes whole to part 2
    assert _text_of(encoded) == text


def test_an_empty_text_is_refused():
    with pytest.raises(ValueError):
        texts.encode("", 1)


@pytest.mark.parametrize("reply, intent", [
    ("OK", texts.CONFIRM), ("ok!", texts.CONFIRM), ("Ja takk", texts.CONFIRM), ("JA", texts.CONFIRM),
    (" kommer nå", texts.CONFIRM), ("Nei", texts.DECLINE), ("nei, er i Bergen", texts.DECLINE),
    ("Hvem er dette?", None), ("", None), ("okei da", None),
])
def test_the_first_word_of_a_reply_decides(reply, intent):
    assert texts.read_reply(reply).intent == intent


def test_a_reply_may_name_the_request_by_its_code():
    assert texts.read_reply("OK K7Q2").code == "K7Q2"
    assert texts.read_reply("ok k7q2").code == "K7Q2"
    assert texts.read_reply("ja takk").code is None  # words are never taken for a code
    assert all(any(c.isdigit() for c in texts.new_code()) for _ in range(200))


def test_the_request_starts_with_its_code_and_says_how_to_confirm():
    body = texts.kin_request(code="K7Q2", alarm_label="Fall", given_name="Kari", address="Storgata 1", minutes=5)
    assert body.startswith("Respons K7Q2: Fall hos Kari, Storgata 1.")
    assert "Svar OK innen 5 min" in body and "113" in body
    assert texts.data_coding(body) == texts.GSM_DEFAULT, "a request must not cost UCS-2 parts"
    linked = texts.with_link(body, "https://respons.example/k/abc")
    assert "\nhttps://respons.example/k/abc\n" in linked and linked.startswith("Respons K7Q2:")
