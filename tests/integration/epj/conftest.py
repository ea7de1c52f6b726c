"""What the delivery tests share: a FHIR server that starts down, a centre whose EPJ it is,
and the node's delivery worker."""

from __future__ import annotations

from datetime import timedelta

import pytest

from respons.epj.worker import DeliveryWorker
from tests.chaos.server import free_port
from tests.factories import epj_centre
from tests.fhir_server import fhir_server_or_skip

ANSWER_DEADLINE = timedelta(seconds=60)
ALARM_AFTER = timedelta(minutes=15)


@pytest.fixture
def epj_down(tmp_path):
    """The municipality's EPJ, not started: ``start()`` brings it up."""
    server = fhir_server_or_skip(free_port(), tmp_path / "fhir.log")
    yield server
    server.stop()


@pytest.fixture
def world(engine, journal, registry, epj_down):
    """Closes ``count`` alarms of the first municipality, whose EPJ is ``epj_down``."""
    centre = epj_centre(engine, registry, epj_down.base_url)
    return lambda count: centre.close(journal, count)


@pytest.fixture
def make_worker(engine, journal):
    def make(clock, node="n1", lease_seconds=60.0) -> DeliveryWorker:
        return DeliveryWorker(journal, engine, clock, node=node, poll_seconds=1, lease_seconds=lease_seconds,
                              timeout_seconds=30, alarm_after=ALARM_AFTER, answer_deadline=ANSWER_DEADLINE, batch=50)
    return make
