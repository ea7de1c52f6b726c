"""`respons serve` subscribes to RESPONS_MQTT_URL: a real process, the real Mosquitto, and
Mosquitto's own clients on the other side."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, insert, select

from respons.store.migrate import upgrade
from respons.store.tables import alarms, devices
from tests.chaos.server import ServerProcess, free_port
from tests.factories import seed_registry
from tests.mqtt_broker import BROKER_URL, broker_or_skip, mosquitto_pub, unique

pytestmark = pytest.mark.slow


def test_serve_stores_sensor_alarms_from_the_broker_including_those_sent_before_it_started(tmp_path):
    broker = broker_or_skip()
    root, client_id = unique("serve"), unique("respons-serve")
    topics = [f"{root}/+/sensors/+/+"]
    # The session Respons will use exists before Respons does (as after its first start):
    # mosquitto_sub subscribes with QoS 1 under Respons' client id and leaves.
    subprocess.run(["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-V", "mqttv5", "-c", "-x", "120",
                    "-i", client_id, "-q", "1", "-t", topics[0], "-E"], check=True, timeout=10, capture_output=True)
    url = f"sqlite:///{tmp_path / 'mqtt.db'}"
    upgrade(url)
    engine = create_engine(url)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    registry = seed_registry(engine, now=now)
    with engine.begin() as conn:
        conn.execute(insert(devices).values(municipality_id=registry.municipality_ids[0], recipient_id=registry.recipient_ids[0],
                                            kind="fall_sensor", protocol="mqtt", identity="FS-1", created_at=now))
    topic = f"{root}/9000/sensors/FS-1/event"
    mosquitto_pub(broker, topic, json.dumps({"type": "fall", "id": "before", "occurred_at": now.isoformat()}))
    server = ServerProcess(url, free_port(), tmp_path / "server.log", mqtt_url=BROKER_URL, mqtt_client_id=client_id,
                           mqtt_topics=json.dumps(topics))
    server.start()
    try:
        mosquitto_pub(broker, topic, json.dumps({"type": "4.11", "id": "after", "occurred_at": now.isoformat()}))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                stored = conn.execute(select(alarms.c.type, alarms.c.source).order_by(alarms.c.type)).all()
            if len(stored) == 2:
                break
            time.sleep(0.1)
    finally:
        server.stop()
    assert stored == [("fall", "mqtt"), ("fire", "mqtt")], (tmp_path / "server.log").read_text()[-3000:]
