"""The process's Prometheus metrics, and the hooks the code calls to move them.

Counters and histograms that code paths move (alarms received, journal batches, ACK
latency, HTTP requests, timer fire lag) live in prometheus-client's process-wide
registry; figures that are cheaper to ask the database for at scrape time (unanswered
alarms per municipality, timers due, quarantine size) and per-app figures (open streams,
readiness) come from a collector per app (``web/metrics.py``).

**No personal data in labels**: a municipality is labelled by its number (kommunenummer),
an alarm by its type code and source protocol, a request by its route *template*
(``/api/v1/alarms/{alarm_id}``) — never a name, a device identity, an id or a raw path.
Every label has a small, fixed set of values, so a hostile sender cannot grow the series.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram, disable_created_metrics

# The *_created series (when each series was created) only add lines to every scrape.
disable_created_metrics()

# Seconds, from a millisecond up to the point where a vendor's platform gives up.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

ALARMS_RECEIVED = Counter(
    "respons_alarms_received", "New alarms committed (retransmits not counted), by source protocol and alarm type.",
    ["source", "type"])

JOURNAL_BATCH_UNITS = Histogram(
    "respons_journal_batch_units", "Units of work per journal batch (one COMMIT).",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500))
JOURNAL_COMMIT_SECONDS = Histogram(
    "respons_journal_commit_seconds", "Time to write and commit one journal batch (BEGIN to COMMIT), committed or not.",
    buckets=LATENCY_BUCKETS)
JOURNAL_FAILED_BATCHES = Counter(
    "respons_journal_failed_batches", "Journal batches that did not commit (nothing in them acknowledged), by reason.",
    ["reason"])

ACK_SECONDS = Histogram(
    "respons_ack_seconds", "From an alarm's arrival to its acknowledgement (HTTP 202, DC-09 ACK, SIP 200, PUBACK), "
    "by protocol: each after its COMMIT.", ["protocol"], buckets=LATENCY_BUCKETS)

TIMER_FIRE_LAG_SECONDS = Histogram(
    "respons_timer_fire_lag_seconds", "How late a timer fired (fired at minus due at), by kind.", ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0))

HTTP_REQUESTS = Counter(
    "respons_http_requests", "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"])
HTTP_SECONDS = Histogram(
    "respons_http_request_seconds", "Time to the response's first byte, by method and route template.",
    ["method", "route"], buckets=LATENCY_BUCKETS)


def alarm_received(source: str, type_code: str, count: int = 1) -> None:
    ALARMS_RECEIVED.labels(source, type_code).inc(count)


def ack(protocol: str, started: float) -> None:
    """``started``: ``time.perf_counter()`` when the alarm arrived."""
    ACK_SECONDS.labels(protocol).observe(time.perf_counter() - started)


def timed_answers(receiver, protocol: str) -> None:
    """Time a device receiver's answers (DC-09, SCAIP: the bytes are sent as soon as the
    answer is there), so the receivers need not know about metrics. DC-09 answers through a
    callback (``answer``, which its ``answer_for`` also goes through), SCAIP by returning
    from ``answer_for``."""
    if hasattr(receiver, "answer"):
        answer = receiver.answer

        def timed_callback(raw, remote, then):
            started = time.perf_counter()

            def answered(reply):
                if reply is not None:
                    ack(protocol, started)
                then(reply)

            answer(raw, remote, answered)

        receiver.answer = timed_callback
        return
    answer_for = receiver.answer_for

    async def timed(*args, **kwargs):
        started = time.perf_counter()
        answer = await answer_for(*args, **kwargs)
        if answer is not None:
            ack(protocol, started)
        return answer

    receiver.answer_for = timed
