"""`respons serve` starts the DC-09 receiver on RESPONS_DC09_PORT: a real process, a real socket."""

from __future__ import annotations

import socket
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, insert, select

from respons.intake.dc09.frames import build, parse
from respons.store.migrate import upgrade
from respons.store.tables import alarms, devices
from tests.chaos.server import ServerProcess, free_port
from tests.factories import seed_registry

pytestmark = pytest.mark.slow


def test_serve_answers_dc09_frames_after_storing_them(tmp_path):
    url = f"sqlite:///{tmp_path / 'dc09.db'}"
    upgrade(url)
    engine = create_engine(url)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    registry = seed_registry(engine, now=now)
    with engine.begin() as conn:
        conn.execute(insert(devices).values(municipality_id=registry.municipality_ids[0], recipient_id=registry.recipient_ids[0],
                                            kind="safety_alarm", protocol="sia_dc09", identity="5C4", created_at=now))
    port = free_port()
    # A 2 s retransmit window (RESPONS_DC09_RETRANSMIT_SECONDS), so the test can outwait it.
    server = ServerProcess(url, free_port(), tmp_path / "server.log", dc09_port=str(port), dc09_retransmit_seconds="2")
    server.start()

    def send(sock) -> bytes:
        stamp = datetime.now(timezone.utc).replace(microsecond=0)  # each sending stamped anew, as a panel does
        sock.sendall(build("ADM-CID", sequence="0007", account="5C4", prefix="0", data="#5C4|1101 01 001", timestamp=stamp))
        return sock.recv(4096)

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            replies = [send(sock), send(sock)]  # the second is a retransmit within the window
            time.sleep(2.5)
            replies.append(send(sock))  # the same event again after the window: a new alarm
    finally:
        server.stop()
    for reply in replies:
        ack = parse(reply, now=datetime.now(timezone.utc))
        assert (ack.token, ack.sequence, ack.account) == ("ACK", "0007", "5C4")
    with engine.connect() as conn:
        assert conn.execute(select(alarms.c.type, alarms.c.source)).all() == [("button_press", "sia_dc09")] * 2
