"""Messages per channel: sent, delivered, failed, expired, and the medians to delivery and to
a confirmation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from respons.statistics.messages import MessageFact, by_channel

T = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)


def fact(channel="sms", state="delivered", sent=1, delivered=None, confirmed=None, purpose="kin_request"):
    at = lambda s: None if s is None else T + timedelta(seconds=s)  # noqa: E731
    return MessageFact(channel, purpose, state, T, at(sent), at(delivered), at(confirmed))


def test_each_channel_counts_its_own_messages_and_medians():
    figures = by_channel([
        fact(delivered=4, confirmed=60), fact(delivered=10), fact(state="failed", sent=None),
        fact(state="expired", sent=None), fact(state="sent", delivered=None),
        fact(channel="push", state="delivered", delivered=2, purpose="offer"),
    ])
    sms, push = figures["sms"], figures["push"]
    assert (sms.queued, sms.sent, sms.delivered, sms.failed, sms.expired, sms.confirmed) == (5, 3, 2, 1, 1, 1)
    assert sms.median_seconds_to_delivery == 7.0 and sms.median_seconds_to_confirmation == 60.0
    assert sms.share_delivered == round(2 / 3, 3)
    assert (push.queued, push.delivered, push.median_seconds_to_delivery) == (1, 1, 2.0)
    assert push.median_seconds_to_confirmation is None


def test_no_messages_no_channels():
    assert by_channel([]) == {}
