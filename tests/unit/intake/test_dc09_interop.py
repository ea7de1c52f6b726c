"""Our DC-09 frames against pysiaalarm, an implementation nobody here wrote.

pysiaalarm is a receiver library (Home Assistant's SIA integration). It reads what our
``build`` writes (so a panel following the same reading of DC-09 talks to us), and its AES
produces ciphertext that our ``decrypt`` opens. pysiaalarm takes the key as text and uses
its ASCII bytes; Respons stores the hex of those bytes.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from respons.intake.dc09 import crypto
from respons.intake.dc09.crc import crc16_arc
from respons.intake.dc09.frames import Answer, Frame, answer, build, parse

pysiaalarm = pytest.importorskip("pysiaalarm")
from pysiaalarm import SIAAccount  # noqa: E402
from pysiaalarm.event import SIAEvent  # noqa: E402

TEXT_KEY = "ABCDEF0123456789"


def now() -> datetime:
    # pysiaalarm checks the timestamp against the real clock.
    return datetime.now(timezone.utc).replace(microsecond=0)


@pytest.mark.parametrize("encrypted", [False, True])
def test_pysiaalarm_reads_our_contact_id_frames(encrypted):
    stamp = now()
    key = TEXT_KEY.encode() if encrypted else None
    raw = build("ADM-CID", sequence="0042", account="1234", prefix="0", receiver="1", data="#1234|1101 01 015",
                timestamp=stamp, key=key)
    event = SIAEvent.from_line(raw.decode("ascii").strip("\n\r"),
                               {"1234": SIAAccount("1234", TEXT_KEY if encrypted else None)})
    assert event.valid_message, "pysiaalarm's CRC agrees with ours"
    assert (event.encrypted, event.sequence, event.account) == (encrypted, "0042", "1234")
    assert (event.event_qualifier, event.event_type, event.partition, event.ri) == ("1", "101", "01", "015")
    assert event.timestamp == stamp
    assert event.response.value == "ACK"


def test_ciphertext_from_pysiaalarm_opens_with_our_decrypt():
    stamp = now()
    carrier = SIAEvent.from_line(
        build("NULL", sequence="0001", account="1234", timestamp=stamp, key=TEXT_KEY.encode()).decode().strip("\n\r"),
        {"1234": SIAAccount("1234", TEXT_KEY)})
    content = "#1234|1602 00 000]_" + stamp.strftime("%H:%M:%S,%m-%d-%Y")
    ciphertext = carrier.encrypt_content("|" + content)  # pysiaalarm pads with zeros in front
    assert crypto.decrypt(ciphertext, TEXT_KEY.encode()) == content
    message = f'"*ADM-CID"0002L0#1234[{ciphertext}'
    raw = b"\n" + f"{crc16_arc(message.encode()):04X}0{len(message):03X}{message}".encode() + b"\r"
    assert parse(raw, now=stamp, key=TEXT_KEY.encode()) == Frame(
        "ADM-CID", True, "0002", None, "0", "1234", "#1234|1602 00 000", (), stamp)


def test_our_nak_and_duh_are_the_bytes_pysiaalarm_sends(monkeypatch):
    """pysiaalarm answers a stale frame from a panel with receiver and prefix 0 with the DC-09
    NAK form, and an event code it does not know with DUH; ours must be the same bytes,
    CRC and length included (it writes its own time; here both write the same instant)."""
    stamp = now()
    monkeypatch.setattr(SIAEvent, "_get_timestamp",
                        staticmethod(lambda device_timezone=None: stamp.strftime("_%H:%M:%S,%m-%d-%Y")))
    accounts = {"1234": SIAAccount("1234")}
    stale = build("ADM-CID", sequence="0042", account="1234", prefix="0", receiver="0", data="#1234|1101 01 015",
                  timestamp=stamp - timedelta(seconds=60))
    theirs = SIAEvent.from_line(stale.decode("ascii").strip("\n\r"), accounts)
    assert theirs.response.value == "NAK"
    ours = parse(stale, now=stamp)
    assert ours.answer is Answer.NAK
    assert answer(Answer.NAK, ours.frame, now=stamp) == theirs.create_response()

    unknown = build("SIA-DCS", sequence="0043", account="1234", prefix="0", receiver="1", data="#1234|Nri1/QQ01",
                    timestamp=stamp)
    theirs = SIAEvent.from_line(unknown.decode("ascii").strip("\n\r"), accounts)
    assert theirs.response.value == "DUH"
    assert answer(Answer.DUH, parse(unknown, now=stamp), now=stamp) == theirs.create_response()
