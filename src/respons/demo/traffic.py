"""Simulated alarm traffic: how many alarms, of which types, at what time of day.

Pure: no I/O and no clock reads; the caller passes the random generator and the times.

Figures from seed 001 (the national survey of response services):

* Volume: Kristiansand responssenter covers "rundt 18 000 aktive brukere og godt over
  1 000 innkommende alarmanrop per dag", hence ``alarms_per_recipient_day = 1000 / 18000``
  (about 0.056 alarms per recipient per day).
* Time of day: the survey gives no hourly curve, but it shows the load falls at night:
  Kristiansand staffs "4-4-3 operatører for henholdsvis dag, kveld og nattvakt", Værnes
  finds "en operatør på kveld og natt" sufficient. The peak 08–11 (morning care, getting
  up, the first falls of the day) is this project's assumption, not a figure from the seed.
* Technical alarms are a large stream of their own: Værnes clears "90% av tekniske
  varslinger" at the centre, NGLMS "siler ut de fleste" technical alarms, Telemark watches
  3,000 technical alarm systems next to 6,000 welfare units. The survey gives no share of
  alarms, so ``TYPE_MIX`` assumes about 28 % technical.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from respons.domain.alarm_types import ALARM_TYPES, Category

OSLO = ZoneInfo("Europe/Oslo")

alarms_per_recipient_day = 1000 / 18000

# Relative alarm rate by Oslo local hour (index 0 = 00:00–00:59). Only the ratios matter.
HOURLY_WEIGHTS: tuple[float, ...] = (
    0.45, 0.40, 0.35, 0.35, 0.35, 0.45,  # 00–05: night, a few falls and confused calls
    0.70, 1.10, 1.80, 2.00, 1.90, 1.70,  # 06–11: getting up and morning care, the peak
    1.35, 1.20, 1.10, 1.05, 1.05, 1.05,  # 12–17: afternoon
    1.00, 0.95, 0.95, 0.90, 0.75, 0.55,  # 18–23: evening, going to bed
)

# Alarm type code -> relative weight (the weights sum to 100, so they read as percent).
TYPE_MIX: dict[str, float] = {
    "button_press": 40.0,
    "voice_call": 8.0,
    "fall": 5.0,
    "door_opened": 6.0,
    "bed_exit": 5.0,
    "inactivity": 3.0,
    "fire": 0.5,
    "medication_missed": 3.0,
    "geofence_exit": 1.5,
    "battery_low": 12.0,
    "power_lost": 6.0,
    "device_silent": 7.0,
    "device_fault": 3.0,
}

# Which device kinds may raise a type, in order of preference: the first kind of which
# there is at least one device is used. ``None``: any device (technical alarms).
_SOURCE_KINDS: dict[str, tuple[str, ...] | None] = {
    "button_press": ("safety_alarm",),
    "voice_call": ("safety_alarm",),
    "fall": ("fall_sensor", "safety_alarm"),
    "door_opened": ("door_sensor",),
    "bed_exit": ("bed_sensor",),
    "inactivity": ("safety_alarm",),
    "fire": ("smoke_detector",),
    "medication_missed": ("medication_dispenser",),
    "geofence_exit": ("gps_tracker",),
}

_MICROSECOND = timedelta(microseconds=1)


def technical_share(mix: dict[str, float] = TYPE_MIX) -> float:
    """The share of ``mix`` that is technical alarms (battery, power, lost contact, faults)."""
    technical = sum(w for code, w in mix.items() if ALARM_TYPES[code].category is Category.TECHNICAL)
    return technical / sum(mix.values())


@dataclass(frozen=True)
class SimulatedAlarm:
    at: datetime  # aware, UTC
    device: str
    type: str


class _DevicePicker:
    """Draws a type from the mix and a device able to raise it."""

    def __init__(self, devices: Sequence[tuple[str, str]]):
        if not devices:
            raise ValueError("No devices to simulate alarms from.")
        self._all = [identity for identity, _kind in devices]
        by_kind: dict[str, list[str]] = {}
        for identity, kind in devices:
            by_kind.setdefault(kind, []).append(identity)
        self._sources: dict[str, list[str]] = {}
        for code in TYPE_MIX:
            source = self._source_for(code, by_kind)
            if source:
                self._sources[code] = source
        # A municipality without smoke detectors gets no fire alarms; the other types keep
        # their relative weights, so the total rate stays the survey's.
        self._codes = list(self._sources)
        self._cum_weights = _cumulative([TYPE_MIX[c] for c in self._codes])

    def _source_for(self, code: str, by_kind: dict[str, list[str]]) -> list[str]:
        kinds = _SOURCE_KINDS.get(code)
        if kinds is None:
            return self._all
        for kind in kinds:
            if by_kind.get(kind):
                return by_kind[kind]
        return []

    def pick(self, rng: random.Random) -> tuple[str, str]:
        code = rng.choices(self._codes, cum_weights=self._cum_weights)[0]
        return code, rng.choice(self._sources[code])


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def schedule(
    rng: random.Random,
    *,
    start: datetime,
    end: datetime,
    devices: Sequence[tuple[str, str]],
    rate_per_recipient_day: float = alarms_per_recipient_day,
    n_recipients: int,
) -> Iterator[SimulatedAlarm]:
    """Alarms over ``[start, end)``, in strictly increasing time order.

    A non-homogeneous Poisson process whose rate follows ``HOURLY_WEIGHTS`` in Oslo local
    time, so that a DST change moves the morning peak with the clocks on the wall.
    Sampled by thinning: candidates come at the peak rate, and each is kept with
    probability weight(local hour) / peak weight. The local hour is looked up for each
    candidate with zoneinfo, which is unambiguous because the candidate is a UTC instant.

    ``devices`` are ``(identity, kind)`` pairs; the rate scales with ``n_recipients``.
    """
    for name, value in (("start", start), ("end", end)):
        if value.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware")
    if rate_per_recipient_day < 0 or n_recipients < 0:
        raise ValueError("rate_per_recipient_day and n_recipients must not be negative")
    picker = _DevicePicker(devices)
    return _thinned(
        rng,
        start.astimezone(timezone.utc),
        end.astimezone(timezone.utc),
        picker,
        rate_per_day=rate_per_recipient_day * n_recipients,
    )


def _thinned(
    rng: random.Random, start: datetime, end: datetime, picker: _DevicePicker, *, rate_per_day: float
) -> Iterator[SimulatedAlarm]:
    if rate_per_day <= 0 or end <= start:
        return
    peak = max(HOURLY_WEIGHTS)
    # Per-hour rate at hour h is rate_per_day * w[h] / sum(w): a 24-hour day sums to rate_per_day.
    peak_per_second = rate_per_day * peak / sum(HOURLY_WEIGHTS) / 3600.0
    at = start
    while True:
        # Whole microseconds, at least one: equal timestamps would look like duplicates.
        gap = timedelta(microseconds=round(rng.expovariate(peak_per_second) * 1_000_000))
        at += max(gap, _MICROSECOND)
        if at >= end:
            return
        if rng.random() * peak >= HOURLY_WEIGHTS[at.astimezone(OSLO).hour]:
            continue
        code, device = picker.pick(rng)
        yield SimulatedAlarm(at=at, device=device, type=code)
