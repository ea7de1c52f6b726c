"""A DC-09 frame is decoded once: the journal lane and the unit of work use the same reading."""

from __future__ import annotations

from datetime import datetime, timezone

from respons.intake.dc09.frames import Frame
from respons.intake.dc09.receiver import interpret, lane_of
from respons.store.journal import Lane

NOW = datetime(2026, 12, 3, 2, 14, tzinfo=timezone.utc)


def frame(token: str, data: str = "") -> Frame:
    return Frame(token=token, encrypted=False, sequence="0001", receiver=None, prefix="L0", account="1234",
                 data=data, timestamp=NOW)


def test_a_link_test_is_technical_and_has_no_event():
    message = interpret(frame("NULL"))
    assert (message.event, message.problem, lane_of(message)) == (None, None, Lane.TECHNICAL)


def test_a_fire_is_read_once_and_goes_first():
    message = interpret(frame("ADM-CID", "#1234|1110 01 015"))
    assert message.event is not None and message.event.alarm_type is not None
    assert lane_of(message) is Lane.LIFE


def test_what_cannot_be_read_is_kept_and_treated_as_a_possible_alarm():
    unreadable = interpret(frame("ADM-CID", "#1234|garbage"))
    unknown = interpret(frame("XYZ-ABC"))
    assert unreadable.problem[0] == "unreadable_event" and lane_of(unreadable) is Lane.LIFE
    assert unknown.problem[0] == "unknown_token" and lane_of(unknown) is Lane.LIFE
