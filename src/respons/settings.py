"""Configuration from the environment (prefix ``RESPONS_``).

Every knob has a default that gives a working single-node installation on SQLite;
production sets ``RESPONS_DATABASE_URL=postgresql+psycopg://…``.
"""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from respons import maps


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RESPONS_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/respons.db",
        description="SQLAlchemy URL. SQLite (WAL) by default; postgresql+psycopg://… in production.",
    )
    host: str = "127.0.0.1"
    port: int = 8080
    node_name: str = Field(default="", description="Name of this node in timer claims; hostname:pid if empty.")

    # Journal writer: events that arrive within this window share one durable commit.
    journal_window_ms: float = 2.0
    journal_max_batch: int = 500

    # Helsedirektoratet's requirement: 95 % of alarms answered within 60 s.
    answer_deadline_seconds: float = 60.0

    # HTTP intake (docs/protocols.md, "HTTP intake"). A larger body is refused with 413 while
    # it is read, its first bytes kept in quarantine; an alarm is a few hundred bytes.
    intake_max_bytes: int = Field(default=64 * 1024, ge=1024)
    # JSON nested deeper than this is refused (422, kept): the alarm itself is level 1.
    intake_max_depth: int = Field(default=32, ge=4, le=200)
    # An occurred_at further ahead of / behind the receive time than this is accepted and
    # marked "clock suspect" on the timeline and the console card.
    intake_clock_future_seconds: float = Field(default=600.0, ge=0)
    intake_clock_past_seconds: float = Field(default=86400.0, ge=0)
    # Home care dispatched by the centre must accept within / report done within these
    # (then the console flags the alarm: missing response).
    # SIA DC-09 receiver (TCP and UDP on the same port, on RESPONS_HOST); None: not started.
    dc09_port: int | None = None
    # A DC-09 event sent again (same account, sequence number and content) with a fresh
    # timestamp within this many seconds of the first sending is the same alarm
    # (docs/protocols.md); 0: only a sending with the same timestamp is.
    dc09_retransmit_seconds: float = Field(default=300.0, ge=0)
    # SCAIP receiver (SIP MESSAGE over TCP and UDP on the same port, on RESPONS_HOST); None: not started.
    scaip_port: int | None = None
    # MQTT intake for sensors (docs/mqtt.md): mqtt://host:1883 or mqtts://host:8883; None: not started.
    mqtt_url: str | None = None
    # Topic filters, as JSON in the environment: RESPONS_MQTT_TOPICS='["respons/+/sensors/+/+"]'.
    mqtt_topics: list[str] = ["respons/+/sensors/+/+"]
    # Fixed, so the broker keeps this node's session (and its QoS 1 messages) while it is down;
    # give each node of a cluster its own.
    mqtt_client_id: str = "respons"
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    # How long the broker keeps the session and its messages after Respons disconnects.
    mqtt_session_expiry_seconds: int = 7 * 24 * 3600
    mission_accept_minutes: float = 5
    mission_complete_minutes: float = 60
    timer_poll_seconds: float = 0.5
    # How often silent devices are looked for (each device's own interval and grace decide
    # when it is silent; this only bounds how late the lost-contact alarm can be).
    supervision_poll_seconds: float = 5.0
    timer_lease_seconds: float = 30.0
    # Digital supervision rounds (docs/supervision.md): a look-in may start (the camera may
    # open) this many minutes either side of its agreed time; past its time by
    # ``supervision_late_minutes`` the round list warns; not seen, the person is looked for
    # again after ``supervision_recheck_minutes``. The sweep runs every ``round_poll_seconds``.
    supervision_window_minutes: float = Field(default=10.0, gt=0, le=120)
    supervision_late_minutes: float = Field(default=5.0, gt=0, le=120)
    supervision_recheck_minutes: float = Field(default=15.0, ge=1, le=240)
    round_poll_seconds: float = Field(default=5.0, gt=0)
    # The statistics' assumption (docs/statistics.md): a planned look-in that found the person
    # well replaced a visit by the night patrol of this many minutes, driving included.
    supervision_visit_minutes: float = Field(default=30.0, ge=0, le=240)
    # The patient record's delivery worker (docs/epj.md): how often it looks for documents due,
    # how long a claim holds before another node may take it, how long one delivery may take.
    epj_poll_seconds: float = 2.0
    epj_lease_seconds: float = Field(default=120.0, gt=0)
    epj_timeout_seconds: float = Field(default=30.0, gt=0)
    # Deliveries to a municipality's EPJ that have all failed for this long raise a technical
    # alarm at the centre, for the host administrator (docs/epj.md).
    epj_alarm_after_seconds: float = Field(default=900.0, gt=0)

    # Voice (docs/voice.md): the media gateway's HTTP API (Janus, on this node's loopback) and
    # its API secret, never given to a browser. Without a URL the console says "Tale
    # utilgjengelig" and operators call by hand.
    voice_gateway_url: str | None = None
    voice_gateway_secret: str | None = None
    # Where calls to phone numbers go (a SIP trunk: host[:port]); without one only alarm units
    # with their own SIP address can be called.
    voice_trunk: str | None = None
    # Who the centre is to the unit: units auto-answer calls from this number.
    voice_caller_id: str = "responssenter"
    # An unanswered call is given up after this long and recorded as "no answer".
    voice_ring_seconds: float = Field(default=30.0, gt=0)
    # A unit that said it would call (SCAIP cha 0) and has not within this long: the card
    # offers to call it back.
    voice_expected_call_seconds: float = Field(default=60.0, gt=0)
    # How often the node asks the gateway whether it is there (the console's "Tale utilgjengelig").
    voice_probe_seconds: float = Field(default=2.0, gt=0)
    # The centre's SIP address as alarm units reach it (host or host:port, e.g. behind NAT or a
    # load balancer): where a unit is asked to call when a call is handed to a colleague. Unset:
    # the SCAIP listener's own address.
    voice_centre_address: str | None = Field(default=None,
                                             pattern=r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,200})(:\d{1,5})?$")
    # What the SCAIP answer to an alarm tells the unit about its voice call (docs/scaip.md, "Voice
    # in the answer"): auto (a call while Respons's gateway answers), external (the units call a
    # telephone system outside Respons), none.
    scaip_voice_reply: Literal["auto", "external", "none"] = "auto"
    # A unit that asks to be called back keeps its auto-answer channel open this long (cre 01-60).
    voice_callback_minutes: int = Field(default=5, ge=1, le=60)
    # Where units are to call instead of their pre-defined receiver (tnu, with cre 62), e.g.
    # "sip:centre@respons.kommune.no" or "gsm:+4722000000"; unset: their own receiver (cre 61).
    voice_scaip_call_to: str | None = Field(default=None, pattern=r"^(gsm|sip):[^<>&\s]{1,250}$")

    # Messages to the outside (docs/messages.md). SMS: "none" (next-of-kin requests fail at
    # once and the centre takes the alarm), "smpp" (an SMSC or aggregator over SMPP 3.4) or
    # "http" (an HTTP SMS API of the usual shape).
    sms_provider: Literal["none", "smpp", "http"] = "none"
    # The number replies come back to (a short code or +47…); letters make an alphanumeric
    # sender, which next of kin cannot answer, so "OK" replies would never arrive.
    sms_sender: str = Field(default="", max_length=20)
    smpp_host: str = "127.0.0.1"
    smpp_port: int = 2775
    smpp_system_id: str = Field(default="", max_length=15)
    smpp_password: str = Field(default="", max_length=8)
    sms_http_url: str | None = None
    sms_http_token: str = ""
    # What the HTTP provider must send (Authorization: Bearer …) with its receipts and replies.
    sms_callback_token: str = ""
    # Only numbers starting with one of these (comma-separated: "+4740000001,+4799") may be
    # sent to; empty: any. A test installation on a real provider names its own phones here.
    sms_allow: Annotated[list[str], NoDecode] = []
    # "demo" and "test" installations send SMS only to a local SMSC (a loopback address) or to
    # an allow-list, never to anyone else (docs/messages.md, "Safety").
    installation: Literal["production", "test", "demo"] = "production"
    # The installation's address as next of kin's phones and the SMS provider reach it
    # (https://respons.kommune.no): the one-time confirmation link and the HTTP provider's
    # callbacks. Unset: requests carry no link (a reply still confirms).
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    message_poll_seconds: float = Field(default=2.0, gt=0)
    # A claimed message whose node did not record the provider's answer within this long is
    # another node's to send (or to recognise by its receipt).
    message_lease_seconds: float = Field(default=30.0, gt=0)
    # Web Push to the responder app (docs/messages.md): the VAPID private key (base64url, the
    # raw 32 bytes: `respons push-keys` makes one) and whom push services may contact.
    vapid_private_key: str = ""
    vapid_subject: str = "mailto:drift@respons.invalid"
    # Push services allowed besides the public ones (hosts; e.g. a local one in tests).
    push_services: Annotated[list[str], NoDecode] = []

    timezone: str = "Europe/Oslo"
    # Report and invoice files the command line writes (`respons report file`, `respons
    # invoice export`) go here unless --out names a file; relative to the working directory,
    # like the default database.
    output_dir: str = "var/reports"

    # Browser sessions: server-side, expiring; the cookie is HttpOnly, SameSite=Strict and
    # Secure (browsers treat http://localhost as secure, so the demo works without TLS).
    session_hours: float = 12.0
    # A server-sent events stream ends after this long and the browser reconnects (EventSource
    # does so by itself): proxies and load balancers drop very long requests anyway, and a
    # reconnect re-checks the session.
    sse_max_seconds: float = 300.0
    # Every stream sends a heartbeat this often; the console and the app show "live" only
    # while heartbeats arrive, so a dead node or link shows as disconnected within seconds.
    sse_heartbeat_seconds: float = 3.0
    # How long an operator's "sound off" lasts (it never silences an alarm past its deadline).
    console_mute_seconds: int = 120
    # The card's map link (respons/maps.py): the municipality's own map service, an https://
    # template with {lat} and {lon} and/or {address}, e.g. https://kart.example.kommune.no/?lat={lat}&lon={lon};
    # None: a geo: link, opened by the phone's or the workstation's map application.
    map_url: str | None = None
    cookie_secure: bool = True

    # Operations (docs/operations-health.md). /readyz is 200 only while the node can commit:
    # a probe writes this node's heartbeat row through the journal this often.
    readiness_probe_seconds: float = 5.0
    # "text" (one line per record) or "json" (one JSON object per line, for a log collector).
    log_format: str = "text"
    # One line per HTTP request (method, route template, status, duration, request id).
    access_log: bool = True
    # If set, GET /metrics needs "Authorization: Bearer <this>"; if empty, it is open (a
    # closed network, or the reverse proxy restricts it).
    metrics_token: str = ""
    # Reverse proxies / load balancers whose X-Forwarded-For is believed (addresses or CIDR
    # networks, comma-separated or a JSON list). Empty: the header is ignored, so a client
    # cannot pick the address the log-in limits count (web/client_address.py).
    trusted_proxies: Annotated[list[str], NoDecode] = []

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies_from_text(cls, value):
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else [p for p in text.split(",") if p.strip()]
        # Normalised, and a malformed entry stops the start-up instead of trusting nothing silently.
        return [str(ipaddress.ip_network(str(p).strip(), strict=False)) for p in value if str(p).strip()]

    @field_validator("map_url")
    @classmethod
    def _map_template(cls, value: str | None):
        if value is None or not value.strip():
            return None
        problem = maps.template_problem(value.strip())
        if problem is not None:
            raise ValueError(f"RESPONS_MAP_URL {problem}")
        return value.strip()

    @field_validator("sms_allow", "push_services", mode="before")
    @classmethod
    def _list_from_text(cls, value):
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        return [str(v).strip() for v in value if str(v).strip()]

    @model_validator(mode="after")
    def _epj_sends_fit_their_lease(self):
        # A round claims what it can send within half the lease (epj/worker.py): with less
        # than two timeouts' worth, a send could outlast its claim and go out twice.
        if self.epj_lease_seconds < 2 * self.epj_timeout_seconds:
            raise ValueError("RESPONS_EPJ_LEASE_SECONDS must be at least twice RESPONS_EPJ_TIMEOUT_SECONDS")
        return self

    @model_validator(mode="after")
    def _late_inside_window(self):
        # A look-in late only after its window closed would be missed without a warning.
        if self.supervision_late_minutes >= self.supervision_window_minutes:
            raise ValueError("RESPONS_SUPERVISION_LATE_MINUTES must be shorter than RESPONS_SUPERVISION_WINDOW_MINUTES")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()


def ensure_sqlite_directory(database_url: str) -> None:
    """Create the folder of a file-based SQLite database (``var/`` by default)."""
    prefix = "sqlite:///"
    if database_url.startswith(prefix):
        path = database_url[len(prefix):]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
