"""The figures that are states of the database, read when Prometheus scrapes.

Alarms waiting per municipality number and state and the oldest wait, timers due and the
oldest due, the quarantine, messages by channel and state and their median times. Each is one query on an index (the queue's, the timers'), so a
scrape stays cheap; ``web/metrics.py`` leaves them out when the database does not answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from statistics import median

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine

from respons.domain.lifecycle import State
from respons.messages import store as messages
from respons.store import due_timers, quarantine, queries

WAITING = (State.RECEIVED.value, State.QUEUED.value, State.OFFERED.value)


def from_database(engine: Engine, *, now: datetime) -> list[GaugeMetricFamily]:
    waiting = GaugeMetricFamily("respons_unanswered_alarms", "Alarms nobody has answered yet, by municipality "
                                "number and state (received, queued at the centre, offered to home care).",
                                labels=["municipality", "state"])
    oldest = GaugeMetricFamily("respons_oldest_unanswered_seconds",
                               "How long the oldest unanswered alarm has waited, by municipality number.",
                               labels=["municipality"])
    due = GaugeMetricFamily("respons_timers_due", "Timers past their due time and not yet fired.")
    late = GaugeMetricFamily("respons_timers_oldest_due_seconds",
                             "How far past due the oldest unfired timer is (0: none due).")
    kept = GaugeMetricFamily("respons_quarantine_items", "Input kept in quarantine, by whether an administrator "
                             "has handled it.", labels=["handled"])
    sent = GaugeMetricFamily("respons_messages", "Messages to the outside (SMS, push) by municipality number, "
                             "channel and state (queued, sending, sent, delivered, failed, expired).",
                             labels=["municipality", "channel", "state"])
    times = GaugeMetricFamily("respons_message_median_seconds", "Median seconds from queued to delivered, and "
                              "to a next of kin's confirmation, of the last 24 hours' messages.",
                              labels=["municipality", "channel", "to"])
    with engine.connect() as conn:
        oldest_by_municipality: dict[str, datetime] = {}
        for number, alarm_state, count, first in queries.unanswered_by_municipality(conn, WAITING):
            waiting.add_metric([number, alarm_state], count)
            if number not in oldest_by_municipality or first < oldest_by_municipality[number]:
                oldest_by_municipality[number] = first
        for number, first in oldest_by_municipality.items():
            oldest.add_metric([number], max(0.0, (now - first).total_seconds()))
        count, first_due = due_timers.backlog(conn, now=now)
        due.add_metric([], count)
        late.add_metric([], max(0.0, (now - first_due).total_seconds()) if first_due else 0.0)
        counts = quarantine.counts_by_handled(conn)
        kept.add_metric(["false"], counts[False])
        kept.add_metric(["true"], counts[True])
        for number, channel, message_state, count in messages.counts(conn):
            sent.add_metric([number, channel, message_state], count)
        spans: dict[tuple[str, str, str], list[float]] = {}
        for number, channel, created, delivered, confirmed in messages.recent_times(conn, since=now - timedelta(days=1)):
            for to, at in (("delivery", delivered), ("confirmation", confirmed)):
                if at is not None:
                    spans.setdefault((number, channel, to), []).append((at - created).total_seconds())
        for labels, seconds in sorted(spans.items()):
            times.add_metric(list(labels), median(seconds))
    return [waiting, oldest, due, late, kept, sent, times]
