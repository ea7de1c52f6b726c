"""MQTT intake for sensors: topics and message schema in ``messages`` (pure), the
subscriber and its unit of work in ``receiver``. See docs/mqtt.md."""
