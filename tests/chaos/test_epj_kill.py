"""Kill -9 a node while it delivers documents to the EPJ: after a restart every document is
delivered, and the EPJ holds each alarm's resources exactly once."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from respons.epj import mapping as vkp
from respons.runtime import REACTIONS
from respons.store.journal import Journal
from respons.store.tables import epj_documents
from tests.chaos.server import ServerProcess, free_port
from tests.factories import epj_centre, seed_registry
from tests.fhir_server import fhir_server_or_skip

pytestmark = pytest.mark.slow

DOCUMENTS = 40


def close_alarms(engine, count: int, base_url: str) -> None:
    centre = epj_centre(engine, seed_registry(engine, municipalities_count=1), base_url)
    journal = Journal(engine, window_ms=1, reactions=REACTIONS).start()
    try:
        centre.close(journal, count)
    finally:
        journal.close()


def delivered(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(epj_documents)
                            .where(epj_documents.c.state == "delivered")).scalar_one()


def wait_for(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.05)


def test_a_node_killed_while_delivering_loses_nothing_and_the_epj_gets_no_second_entry(migrated_url, engine, tmp_path):
    epj = fhir_server_or_skip(free_port(), tmp_path / "fhir.log").start()
    try:
        close_alarms(engine, DOCUMENTS, epj.base_url)
        settings = {"epj_poll_seconds": "0.2", "epj_lease_seconds": "6", "epj_timeout_seconds": "3"}
        port = free_port()
        server = ServerProcess(migrated_url, port, tmp_path / "server.log", **settings)
        server.start()
        try:
            wait_for(lambda: delivered(engine) >= 3, timeout=60)
            server.kill()  # mid-delivery: some documents are claimed and on their way
        finally:
            server.stop()
        at_kill = delivered(engine)
        assert at_kill < DOCUMENTS, "the node was killed after it had finished; nothing was tested"

        again = ServerProcess(migrated_url, port, tmp_path / "server-again.log", **settings)
        again.start()
        try:
            wait_for(lambda: delivered(engine) == DOCUMENTS, timeout=120)
        finally:
            again.stop()

        with engine.connect() as conn:
            rows = conn.execute(select(epj_documents.c.state, epj_documents.c.bundle)).all()
        assert [r.state for r in rows] == ["delivered"] * DOCUMENTS
        for row in rows:
            for entry in row.bundle["entry"]:
                resource = entry["resource"]
                identifier = resource["identifier"]
                value = (identifier[0] if isinstance(identifier, list) else identifier)["value"]
                stored = epj.search(resource["resourceType"], identifier=f"{vkp.UUID_SYSTEM}|{value}")
                assert len(stored) == 1, f"{resource['resourceType']} {value} is {len(stored)} times in the EPJ"
    finally:
        epj.stop()
