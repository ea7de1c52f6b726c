"""The schema, as SQLAlchemy Core tables. Alembic migrations are written against this.

Every row of personal data carries ``municipality_id`` (DESIGN.md invariant 5), so that
the access issue can scope every query by it without joins.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    text,
)

from respons.store.types import UTCDateTime

# Stable constraint names so migrations can refer to them on both databases.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# --- organisations -------------------------------------------------------------------

centres = Table(
    "centres",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("phone", String(20)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("organisation_number", String(9)),  # Enhetsregisteret; names the centre in EPJ documents
)

municipalities = Table(
    "municipalities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("number", String(4), nullable=False, unique=True),  # kommunenummer, e.g. 4204
    Column("name", String(100), nullable=False),
    Column("population", Integer, nullable=False),
    Column("role", String(12), nullable=False),  # host | cooperating
    Column("centre_id", Integer, ForeignKey("centres.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("organisation_number", String(9)),  # Enhetsregisteret; the custodian of EPJ documents
    CheckConstraint("role in ('host', 'cooperating')", name="role"),
    CheckConstraint("population >= 0", name="population"),
)

agreements = Table(
    "agreements",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("municipality_id", Integer, ForeignKey("municipalities.id"), nullable=False, index=True),
    Column("centre_id", Integer, ForeignKey("centres.id"), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),  # open-ended when NULL
    Column("notes", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resend_seconds", Integer),  # routing: offer again this often (default 60)
    # Next of kin asked by SMS have this long to confirm before the centre takes the alarm
    # (default 5; docs/messages.md).
    Column("kin_confirm_minutes", SmallInteger),
)

# An agreement is a set of time windows, each with its own service model (seed 000 §8:
# a municipality may combine full response by day with routing by night).
agreement_windows = Table(
    "agreement_windows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("agreement_id", Integer, ForeignKey("agreements.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("service_model", SmallInteger, nullable=False),  # 1 full, 2 routing with backup, 3 routing only
    Column("weekdays", String(7), nullable=False, server_default="1234567"),  # ISO weekdays, Oslo time
    Column("starts", Time, nullable=False),  # local Oslo wall-clock time
    Column("ends", Time, nullable=False),  # may be before ``starts``: the window runs past midnight
    Column("categories", JSON, nullable=False),  # alarm categories covered
    Column("escalation_minutes", Integer),  # model 2: no answer within N minutes -> centre
    Column("device_kinds", JSON),  # only alarms from these device kinds; NULL: every device
    CheckConstraint("service_model in (1, 2, 3)", name="service_model"),
)

zones = Table(
    "zones",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("municipality_id", Integer, ForeignKey("municipalities.id"), nullable=False, index=True),
    Column("code", String(20), nullable=False),
    Column("name", String(100), nullable=False),
    # Staffed housing (bemannet bolig): its alarms go to its own staff first.
    Column("staffed_housing", Boolean, nullable=False, server_default=text("false")),
    UniqueConstraint("municipality_id", "code", name="uq_zones_municipality_code"),
)

# --- people ------------------------------------------------------------------------------

recipients = Table(
    "recipients",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("municipality_id", Integer, ForeignKey("municipalities.id"), nullable=False, index=True),
    Column("zone_id", Integer, ForeignKey("zones.id")),
    Column("national_id", String(11), nullable=False, unique=True),
    Column("given_name", String(100), nullable=False),
    Column("family_name", String(100), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("phone", String(20)),
    Column("address", String(200), nullable=False),
    Column("postal_code", String(4), nullable=False),
    Column("city", String(100), nullable=False),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("key_box", Text),  # where the key box is and how to open it
    Column("language", String(8), nullable=False, server_default="nb"),
    Column("response_notes", Text),  # what a responder must know: hearing, dog, door code
    # Alarm categories that go straight to next of kin by SMS (chosen by the municipality).
    Column("kin_categories", JSON),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("municipality_id", Integer, ForeignKey("municipalities.id"), nullable=False, index=True),
    Column("recipient_id", Integer, ForeignKey("recipients.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("relation", String(50), nullable=False),
    Column("phone", String(20), nullable=False),  # E.164
    Column("priority", SmallInteger, nullable=False),  # 1 is called first
    Column("receives_alarms", Boolean, nullable=False, server_default=text("false")),
    Column("notes", Text),
)

devices = Table(
    "devices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("municipality_id", Integer, ForeignKey("municipalities.id"), nullable=False, index=True),
    Column("recipient_id", Integer, ForeignKey("recipients.id"), index=True),
    Column("kind", String(40), nullable=False),  # safety_alarm, fall_sensor, door_sensor, smoke_detector, …
    Column("protocol", String(20), nullable=False),  # http, sia_dc09, scaip, mqtt
    Column("identity", String(100), nullable=False, unique=True),  # what the device calls itself
    Column("heartbeat_interval_s", Integer),
    Column("heartbeat_grace_s", Integer),
    Column("last_seen_at", UTCDateTime),
    # Precomputed deadline (Healthchecks' alert_after): last_seen + interval + grace.
    # NULL while the device is silent (its lost-contact alarm is out) or not supervised, so
    # the index holds only the devices being watched.
    Column("alert_after", UTCDateTime),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UTCDateTime, nullable=False),
    # SIA DC-09 encryption: the account's AES key (128/192/256 bit) as hex. Write-only in
    # the API: a panel is configured with it once; nobody reads it back.
    Column("dc09_key", String(64)),
    # A peripheral (fall sensor, smoke detector) reports through its base unit: when the
    # base unit is silent, the peripherals' silence is its consequence, not a second fault.
    Column("base_unit_id", Integer, ForeignKey("devices.id")),
    Column("silent_since", UTCDateTime),
    Column("silent_alarm_id", String(36)),  # the open lost-contact alarm; NULL if inhibited
    # Where the centre calls the unit back (its loudspeaker): a SIP URI (docs/voice.md).
    Column("voice_uri", String(200)),
    # A supervision camera's picture (docs/supervision.md, "The camera"): "rtp:<port>/<codec>"
    # (the camera sends RTP to the gateway's port) or "rtsp://…" (the gateway fetches it).
    Column("video_source", String(300)),
    # The network it reports through, where the registry knows it (an operator, a base
    # station, an internet provider): lost contact is grouped by it (domain/storms.py).
    Column("network", String(100)),
)
Index("ix_devices_alert_after", devices.c.alert_after)

staff = Table(
    "staff",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("municipality_id", Integer, ForeignKey("municipalities.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),  # operator, responder, technician
    Column("competence", String(40), nullable=False),  # nurse, health_worker, assistant, technician
    Column("phone", String(20)),
    Column("zone_id", Integer, ForeignKey("zones.id")),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("hpr_number", String(9)),  # Helsepersonellregisteret; names the person in EPJ documents
    CheckConstraint("role in ('operator', 'responder', 'technician')", name="role"),
)

# --- alarms ------------------------------------------------------------------------------

# Planned home-care visits, when the municipality shares them (later from its EPJ): the
# operator sees whether someone is on the way anyway before dispatching.
planned_visits = Table(
    "planned_visits",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("municipality_id", Integer, ForeignKey("municipalities.id"), nullable=False, index=True),
    Column("recipient_id", Integer, ForeignKey("recipients.id", ondelete="CASCADE"), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime),
    Column("service", String(100), nullable=False),  # "Hjemmesykepleie: medisiner", "Trygghetsbesøk"
    Column("notes", Text),
    Index("ix_planned_visits_recipient_starts", "recipient_id", "starts_at"),
)


alarms = Table(
    "alarms",
    metadata,
    Column("id", String(36), primary_key=True),
    # Looked up through ix_alarms_municipality_received, which it leads: an index of its own
    # was one more to write for every alarm (migration 0027).
    Column("municipality_id", Integer, ForeignKey("municipalities.id"), nullable=False),
    Column("recipient_id", Integer, ForeignKey("recipients.id"), index=True),
    Column("device_id", Integer, ForeignKey("devices.id")),
    Column("type", String(40), nullable=False),
    Column("category", String(20), nullable=False),
    Column("priority", SmallInteger, nullable=False),
    Column("source", String(20), nullable=False),  # http, sia_dc09, scaip, mqtt, simulator
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("payload", JSON),
    # Retransmits are recognised by (scope, key): the scope is the sender's identity.
    Column("idempotency_scope", String(120)),
    Column("idempotency_key", String(200)),
    Column("request_fingerprint", String(64)),
    # Projection of the timeline, written in the same transaction as each event.
    Column("state", String(12), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("queued_at", UTCDateTime),  # reached the centre's queue (receipt, escalation, hand-back)
    Column("answered_at", UTCDateTime),
    Column("answered_by", String(100)),
    # The routing plan frozen when the alarm arrived, and the step it is on.
    Column("route", JSON),
    Column("route_step", Integer),
    # Home care dispatched by the centre: {zone_id, dispatched_at/by, accepted_at/by, done_at,
    # accept_by, complete_by}, kept with the events that change it.
    Column("mission", JSON),
    Column("missing_response", Boolean, nullable=False, server_default=text("false")),
    Column("resolved_at", UTCDateTime),
    Column("outcome", String(30)),
    Column("closed_at", UTCDateTime),
    Column("answer_time_exceeded", Boolean, nullable=False, server_default=text("false")),
    Column("arrived_at", UTCDateTime),  # home care's first 'arrived' on the timeline
    # A power-failure storm: the municipality's AC-loss alarms are members of one group
    # alarm (the leader, whose group_id is NULL) and are shown and closed through it.
    Column("group_id", String(36), ForeignKey("alarms.id")),
    UniqueConstraint("idempotency_scope", "idempotency_key", name="uq_alarms_idempotency"),
)
Index("ix_alarms_queue", alarms.c.state, alarms.c.priority, alarms.c.received_at)
# A storm's members (engine/storms.py), and only they: an alarm of no group is not written to it.
Index("ix_alarms_group_state", alarms.c.group_id, alarms.c.state, sqlite_where=alarms.c.group_id.is_not(None),
      postgresql_where=alarms.c.group_id.is_not(None))
# Finds a municipality's open storm group alarm on every AC loss (engine/storms.py): storms are
# rare, so (source, state) narrows to a handful of rows however large the table grows.
Index("ix_alarms_source_state", alarms.c.source, alarms.c.state)
# Statistics and reports read one municipality's alarms of a period; invoices count a year's
# alarms by type from the index alone (type and source never change, so carrying them costs
# nothing when an alarm's state does).
Index("ix_alarms_municipality_received", alarms.c.municipality_id, alarms.c.received_at, alarms.c.type,
      alarms.c.source)

# Who is on duty where: a home-care worker logs in to one or more zones (a night shift can
# cover merged zones) and out again; technicians log in to their municipality.
responder_presence = Table(
    "responder_presence",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("municipality_id", Integer, ForeignKey("municipalities.id"), nullable=False),
    Column("zone_id", Integer, ForeignKey("zones.id")),  # NULL: technicians of the municipality
    Column("role", String(20), nullable=False),  # responder | technician
    Column("logged_in_at", UTCDateTime, nullable=False),
    Column("logged_out_at", UTCDateTime),
    Index("ix_responder_presence_zone_open", "zone_id", "logged_out_at"),
    Index("ix_responder_presence_user", "user_id", "logged_out_at"),
)

# Every message to the outside (SMS to next of kin, Web Push to a responder's phone): written
# in the unit of work of the change that sends it, delivered after the commit by a node's
# worker, its state kept here and on the alarm's timeline (messages/store.py, docs/messages.md).
messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True),
    # Our id for the message toward the provider (the HTTP API's reference; the SMS's short
    # code), unique so a retried send is recognisable as the same message.
    Column("uid", String(36), nullable=False, unique=True),
    # What it is for, made unique per purpose (e.g. "kin:<alarm>:<contact>"): the same
    # change written twice queues one message.
    Column("dedupe_key", String(120), nullable=False, unique=True),
    Column("channel", String(10), nullable=False),  # sms | push
    Column("purpose", String(20), nullable=False),  # kin_request | offer | mission
    Column("alarm_id", String(36), ForeignKey("alarms.id"), index=True),
    Column("municipality_id", Integer, ForeignKey("municipalities.id"), nullable=False, index=True),
    Column("contact_id", Integer, ForeignKey("contacts.id", ondelete="SET NULL")),
    Column("user_id", Integer, ForeignKey("users.id")),
    Column("subscription_id", Integer, ForeignKey("push_subscriptions.id", ondelete="SET NULL")),
    Column("to_address", String(20)),  # E.164 (SMS)
    Column("body", Text, nullable=False),
    Column("code", String(8)),  # the SMS's short code; a reply may name it ("OK K7Q2")
    # queued → sending → sent → delivered; failed; expired (not sent in time, or the provider
    # gave up). "sending": claimed and handed to the provider, its answer not yet recorded.
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("due_at", UTCDateTime),  # next attempt; NULL when nothing more is to be done
    Column("expires_at", UTCDateTime, nullable=False),  # not sent by then: expired, never late
    Column("claimed_by", String(100)),
    Column("lease_until", UTCDateTime),
    Column("provider", String(40)),
    Column("segments", SmallInteger),  # the SMS's parts; each has its provider id (message_parts)
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("delivered_at", UTCDateTime),
    Column("failed_at", UTCDateTime),
    Column("confirmed_at", UTCDateTime),  # next of kin said they go (a reply, or the link)
    Column("declined_at", UTCDateTime),  # next of kin said no
    Column("last_error", Text),
    # A one-time link to confirm by (next of kin): only its SHA-256 is kept.
    Column("link_hash", String(64), unique=True),
    Index("ix_messages_due", "state", "due_at"),
    Index("ix_messages_to_address", "to_address", "created_at"),
)

# What the provider took, by its own id: one row per SMS part over SMPP, one per message over
# an HTTP API or a push service. Receipts find their message here. A receipt that comes before
# its send is recorded (a fast SMSC), or for a send whose node died before recording it, waits
# here without a message (``message_id`` NULL) with its number and first characters.
message_parts = Table(
    "message_parts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("message_id", Integer, ForeignKey("messages.id", ondelete="CASCADE"), index=True),
    Column("provider", String(40), nullable=False),
    Column("ref", String(100), nullable=False),
    Column("seq", SmallInteger),  # which part of the message (1…); NULL while a receipt waits
    Column("state", String(12)),  # the part's receipt: delivered | failed | expired; NULL: none yet
    Column("receipt_at", UTCDateTime),
    Column("number", String(20)),  # a waiting receipt's phone number
    Column("text_start", String(40)),  # and its first characters (SMPP 3.4 Appendix B: 20)
    UniqueConstraint("provider", "ref", name="uq_message_parts_provider_ref"),
)

# A responder's phone that asked for Web Push (the app's service worker); a push service that
# answers 404/410 has forgotten it (``gone_at``).
push_subscriptions = Table(
    "push_subscriptions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("endpoint", Text, nullable=False),
    Column("endpoint_hash", String(64), nullable=False, unique=True),
    Column("p256dh", String(200), nullable=False),
    Column("auth", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("gone_at", UTCDateTime),
)

# A dose a medication dispenser reports as given (epj/doses.py): not an alarm, but documented
# in the patient record as a VkpMedicationDispense. A missed dose is an alarm
# (medication_missed). The sender's message id makes a retransmission the same dose.
medication_doses = Table(
    "medication_doses",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("municipality_id", Integer, ForeignKey("municipalities.id"), nullable=False),
    Column("recipient_id", Integer, ForeignKey("recipients.id"), nullable=False),
    Column("device_id", Integer, ForeignKey("devices.id"), nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("event", String(10), nullable=False),  # vkp-medicationdispense-events code (1, 1.1, 1.2, 1.3, 2 …)
    Column("medication", String(200)),  # what the dispenser says was dispensed, when it says
    Column("dispensed_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("source", String(20), nullable=False),  # http, mqtt
    UniqueConstraint("device_id", "message_id", name="uq_medication_doses_device_message"),
)

# The patient record's outbox (epj/outbox.py, docs/epj.md): one row per version of an alarm's
# VKP document, written with the close, delivered after the commit.
EPJ_STATES = ("waiting", "delivered", "refused", "failed", "not_documented", "superseded")
epj_documents = Table(
    "epj_documents",
    metadata,
    Column("id", Integer, primary_key=True),
    # What the document records: an alarm (its timeline) or a medication dispenser's dose.
    Column("alarm_id", String(36), ForeignKey("alarms.id"), index=True),
    Column("dose_id", String(36), ForeignKey("medication_doses.id"), unique=True),
    Column("lookin_id", Integer, ForeignKey("supervision_lookins.id"), unique=True),  # a supervision look-in
    Column("municipality_id", Integer, ForeignKey("municipalities.id"), nullable=False),
    Column("version", Integer, nullable=False),  # the alarm's seq the document was built from (a dose: 1)
    Column("state", String(20), nullable=False),
    Column("bundle", JSON),  # the transaction Bundle; NULL when not documentable
    Column("problems", JSON),  # why not documented: the validator's findings or the builder's reason
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("due_at", UTCDateTime),  # the next delivery attempt; NULL once final
    Column("claimed_by", String(200)),
    Column("lease_until", UTCDateTime),
    Column("status_code", Integer),  # the EPJ's last HTTP status
    Column("outcome", JSON),  # the EPJ's OperationOutcome (a refusal)
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    CheckConstraint("state in ('waiting', 'delivered', 'refused', 'failed', 'not_documented', 'superseded')",
                    name="state"),
    UniqueConstraint("alarm_id", "version", name="uq_epj_documents_alarm_version"),
    CheckConstraint("(CASE WHEN alarm_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN dose_id IS NULL THEN 0 ELSE 1 END)"
                    " + (CASE WHEN lookin_id IS NULL THEN 0 ELSE 1 END) = 1", name="one_subject"),
)
Index("ix_epj_documents_state_due", epj_documents.c.state, epj_documents.c.due_at)

# Where each municipality's EPJ receives documents (epj/endpoints.py, docs/epj.md). Key and
# certificate files are paths on the node, never stored here.
epj_endpoints = Table(
    "epj_endpoints",
    metadata,
    Column("municipality_id", Integer, ForeignKey("municipalities.id"), primary_key=True),
    Column("base_url", String(500), nullable=False),  # the FHIR base, e.g. https://vkp.example/fhir
    Column("auth", String(20), nullable=False),  # none | mtls | helseid
    Column("client_id", String(200)),
    Column("token_url", String(500)),
    Column("scope", String(500)),
    Column("key_file", String(500)),
    Column("cert_file", String(500)),
    Column("ca_file", String(500)),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("auth in ('none', 'mtls', 'helseid')", name="auth"),
)

# A municipality whose EPJ deliveries fail (epj/watch.py): since when, and the technical alarm
# raised once that has lasted RESPONS_EPJ_ALARM_AFTER_SECONDS. ``alert_after`` is the deadline
# (NULL once the alarm is raised or deliveries succeed again), indexed for the sweep.
epj_delivery_faults = Table(
    "epj_delivery_faults",
    metadata,
    Column("municipality_id", Integer, ForeignKey("municipalities.id"), primary_key=True),
    Column("failing_since", UTCDateTime),  # the first failure after the last delivery; NULL: none
    Column("alert_after", UTCDateTime, index=True),
    Column("alarm_id", String(36), ForeignKey("alarms.id")),  # the technical alarm, once raised
    Column("last_error", Text),
    Column("failures", Integer, nullable=False, server_default="0"),  # since failing_since
)

alarm_events = Table(
    "alarm_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alarm_id", String(36), ForeignKey("alarms.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("data", JSON, nullable=False),
    UniqueConstraint("alarm_id", "seq", name="uq_alarm_events_alarm_seq"),
)
# Who answered (statistics, docs/statistics.md): the answers responders gave in the app, a
# small part of the timeline, found by time without reading the rest (migration 0010). The
# predicate is spelled out as statistics/store.py queries it, so both databases use the index.
HOME_CARE_ANSWER_WHERE = {
    "sqlite": "kind = 'answered' AND json_extract(data, '$.via') = 'responder_app'",
    "postgresql": "kind = 'answered' AND (data ->> 'via') = 'responder_app'",
}
Index("ix_alarm_events_home_care_answers", alarm_events.c.at, alarm_events.c.alarm_id,
      sqlite_where=text(HOME_CARE_ANSWER_WHERE["sqlite"]), postgresql_where=text(HOME_CARE_ANSWER_WHERE["postgresql"]))

# --- voice (voice/store.py owns it; docs/voice.md) ----------------------------------------------

# One row per call through the gateway. The row is the call's state for every node (the
# browser asks any node); the timeline holds what happened, for the record.
voice_calls = Table(
    "voice_calls",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("alarm_id", String(36), ForeignKey("alarms.id"), index=True),
    Column("municipality_id", Integer, ForeignKey("municipalities.id")),  # NULL: an unknown caller
    Column("direction", String(10), nullable=False),
    Column("target_kind", String(20), nullable=False),
    Column("target_label", String(200), nullable=False),
    Column("address", String(200), nullable=False),  # what was dialled (or who called)
    Column("operator", String(100)),  # the actor whose browser has the call
    Column("state", String(10), nullable=False),
    Column("failure", String(20)),
    Column("sip_code", Integer),
    Column("node", String(200), nullable=False),  # the node that speaks to the gateway for it
    Column("remote_sdp", Text),  # the gateway's SDP for the operator's browser
    # An inbound call: the operator who took it, and their browser's answer to the gateway's offer.
    Column("accepted_by", String(100)),
    Column("browser_sdp", Text),
    Column("on_hold", Boolean, nullable=False, server_default=text("false")),  # the operator took another call
    # What the operator asked through another node (hangup, hold, resume): the node that
    # speaks to the gateway for the call reads it and does it (docs/voice.md, "Several nodes").
    Column("request", String(10)),
    # A call handed to a colleague (docs/voice.md, "Transfer"): on the call being handed over,
    # whom it goes to while the unit calls again; on the unit's new call, whom it rings for
    # and the call it came from.
    Column("transfer_to", String(100)),
    Column("transferred_from", String(36)),
    Column("version", Integer, nullable=False),  # grows with each change: the browser waits on it
    Column("created_at", UTCDateTime, nullable=False),
    Column("answered_at", UTCDateTime),
    Column("ended_at", UTCDateTime),
    CheckConstraint("state in ('ringing', 'answered', 'ended', 'failed', 'lost')", name="state"),
    CheckConstraint("direction in ('outbound', 'inbound')", name="direction"),
)
# The calls still going on, by node: what a restarted node and the sweep for nodes gone look
# for (voice/store.py), a handful of rows however many calls the years have made.
_CALL_UNFINISHED = voice_calls.c.state.in_(["ringing", "answered"])
Index("ix_voice_calls_unfinished", voice_calls.c.node, sqlite_where=_CALL_UNFINISHED, postgresql_where=_CALL_UNFINISHED)

# --- digital supervision (digital_supervision/) -------------------------------------------------

# A municipality's decision (vedtak) to look in on a person: digital_supervision/plans.py
# checks it, digital_supervision/store.py owns the rows. Times are Oslo wall-clock times
# ([{"at": "23:00", "weekdays": [1, ..., 7]}]), turned into UTC look-ins when due.
supervision_plans = Table(
    "supervision_plans",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("municipality_id", Integer, ForeignKey("municipalities.id"), nullable=False, index=True),
    Column("recipient_id", Integer, ForeignKey("recipients.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(10), nullable=False),
    Column("times", JSON, nullable=False),
    Column("max_seconds", Integer, nullable=False),
    Column("event_based", Boolean, nullable=False, server_default=text("false")),
    Column("checklist", JSON, nullable=False),
    Column("instructions", Text),
    Column("consent_by", String(200), nullable=False),
    Column("consent_on", Date, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    # The look-ins of this plan exist as rows up to here (digital_supervision/rounds.py):
    # the sweep adds the next day's when it comes near, so each span is scheduled once.
    Column("scheduled_until", UTCDateTime),
    # What replaces a camera look-in when the camera shows nothing: phone or visit.
    Column("fallback", String(10), nullable=False, server_default="phone"),
    # Ended on the day itself: consent withdrawn at this moment. ``valid_to`` is a date, and a
    # camera must not open later that same day (digital_supervision/service.end_plan).
    Column("withdrawn_at", UTCDateTime),
    CheckConstraint("kind in ('camera', 'sensor', 'phone')", name="kind"),
)

# One look-in: a row with its own deadlines (Healthchecks' alert_after), so a restart loses
# none and repeats none. ``check_at`` is the next moment the sweep must act on it (late, then
# missed); NULL once somebody started it. ``reason``: planned (an agreed time), recheck (not
# seen: again after 15 min), fallback (the camera failed: phone instead), event (after an
# alarm, ``alarm_id``). Owner: digital_supervision/store.py.
supervision_lookins = Table(
    "supervision_lookins",
    metadata,
    Column("id", Integer, primary_key=True),
    # The look-in's identity outside this installation (its EPJ document's resources are named
    # by it, as an alarm's are by the alarm's UUID).
    Column("uid", String(36), nullable=False, unique=True),
    Column("plan_id", Integer, ForeignKey("supervision_plans.id", ondelete="CASCADE"), nullable=False),
    Column("municipality_id", Integer, ForeignKey("municipalities.id"), nullable=False),
    Column("recipient_id", Integer, ForeignKey("recipients.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("reason", String(10), nullable=False),
    Column("method", String(10), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("planned_local", String(16)),  # the agreed wall-clock time, "2026-12-04T23:00"
    Column("shifted", Boolean, nullable=False, server_default=text("false")),
    Column("closes_at", UTCDateTime, nullable=False),
    Column("check_at", UTCDateTime),
    Column("state", String(10), nullable=False),
    Column("late", Boolean, nullable=False, server_default=text("false")),
    Column("previous_id", Integer, ForeignKey("supervision_lookins.id")),
    Column("alarm_id", String(36), ForeignKey("alarms.id")),
    Column("raised_alarm_id", String(36), ForeignKey("alarms.id")),
    Column("started_by", String(100)),
    Column("started_at", UTCDateTime),
    Column("view_until", UTCDateTime),
    Column("outcome", String(20)),
    Column("note", Text),
    Column("finished_by", String(100)),
    Column("finished_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("plan_id", "reason", "due_at", name="uq_supervision_lookins_plan_due"),
    UniqueConstraint("previous_id", "reason", name="uq_supervision_lookins_previous"),
    CheckConstraint("reason in ('planned', 'recheck', 'fallback', 'event')", name="reason"),
    CheckConstraint("method in ('camera', 'sensor', 'phone')", name="method"),
    CheckConstraint("state in ('due', 'started', 'done', 'missed', 'cancelled')", name="state"),
)
Index("ix_supervision_lookins_due", supervision_lookins.c.municipality_id, supervision_lookins.c.due_at)
# Only look-ins the sweep still has to watch are indexed.
Index("ix_supervision_lookins_check", supervision_lookins.c.check_at,
      sqlite_where=supervision_lookins.c.check_at.is_not(None),
      postgresql_where=supervision_lookins.c.check_at.is_not(None))

# --- deviation reports (avvik) ----------------------------------------------------------------

# A deviation is its timeline (deviation_events); the row carries its projection for lists,
# as alarms do. A system proposal for an alarm is unique per (alarm, category), so the same
# missing response cannot be proposed twice.
deviations = Table(
    "deviations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("municipality_id", Integer, ForeignKey("municipalities.id"), nullable=False, index=True),
    Column("alarm_id", String(36), ForeignKey("alarms.id")),
    Column("category", String(30), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("state", String(15), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text),
    Column("proposed_by_system", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("assigned_to", String(100)),
    Column("closed_at", UTCDateTime),
    Column("conclusion", Text),
    UniqueConstraint("alarm_id", "category", name="uq_deviations_alarm_category"),
)
Index("ix_deviations_created", deviations.c.municipality_id, deviations.c.created_at)

deviation_events = Table(
    "deviation_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deviation_id", Integer, ForeignKey("deviations.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("data", JSON, nullable=False),
    UniqueConstraint("deviation_id", "seq", name="uq_deviation_events_seq"),
)

# --- timers ------------------------------------------------------------------------------

# A timer is a row with due_at (DESIGN.md invariant 4). ``fence`` increases on every claim
# and every cancel, so a worker holding an old fence can never act on the timer.
timers = Table(
    "timers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    Column("alarm_id", String(36), ForeignKey("alarms.id"), index=True),
    Column("due_at", UTCDateTime, nullable=False),
    Column("state", String(12), nullable=False),  # pending, claimed, fired, cancelled
    Column("fence", Integer, nullable=False, server_default="0"),
    Column("claim_token", String(36)),
    Column("claimed_by", String(100)),
    Column("lease_until", UTCDateTime),
    Column("fired_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("state in ('pending', 'claimed', 'fired', 'cancelled')", name="state"),
)
# Only live timers are indexed: the fired and cancelled history does not slow the poll.
Index(
    "ix_timers_live_due",
    timers.c.due_at,
    sqlite_where=timers.c.state.in_(["pending", "claimed"]),
    postgresql_where=timers.c.state.in_(["pending", "claimed"]),
)

# --- quarantine --------------------------------------------------------------------------

# Input we could not turn into an alarm. It may still be someone who needs help, so it
# is kept, with the reason, for an administrator (nothing is thrown away).
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("received_at", UTCDateTime, nullable=False, index=True),
    Column("source", String(20), nullable=False),
    Column("remote_addr", String(64)),
    Column("reason", String(40), nullable=False),
    Column("message", Text, nullable=False),
    Column("content_type", String(100)),
    Column("headers", JSON, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("handled_at", UTCDateTime),
    Column("handled_by", String(100)),
    Column("handled_note", Text),
)

# --- access: users, roles, sessions, tokens, audit -----------------------------------------

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(100), nullable=False, unique=True),  # stored lower-case
    Column("display_name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),  # argon2id, PHC string
    Column("totp_secret", String(64)),  # base32; set = two-factor enrolled
    Column("staff_id", Integer, ForeignKey("staff.id")),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    # Unused since 0011: log-in failures are counted per account and address in
    # login_failures (docs/access.md, "Failed log-ins"); kept, as dropping them would
    # rebuild the table on SQLite for nothing.
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", UTCDateTime),
    # The last TOTP time step accepted at log-in: RFC 6238 §5.2 says a code is used once.
    Column("totp_last_step", BigInteger),
    Column("last_login_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
)

# A person can hold roles in several municipalities. municipality_id NULL means the role
# is held at the response centre (host administrator, operator, centre-wide auditor).
role_grants = Table(
    "role_grants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("role", String(30), nullable=False),
    Column("municipality_id", Integer, ForeignKey("municipalities.id")),
    Column("granted_at", UTCDateTime, nullable=False),
    UniqueConstraint("user_id", "role", "municipality_id", name="uq_role_grants_user_role_municipality"),
    CheckConstraint(
        "role in ('host_admin', 'operator', 'responder', 'technician', 'municipality_admin', 'auditor')", name="role"
    ),
)
# A role for the whole centre (no municipality) once per user: the constraint above treats NULLs
# as different, so two nodes granting it at once would both succeed without this.
Index("uq_role_grants_centre_role", role_grants.c.user_id, role_grants.c.role, unique=True,
      sqlite_where=role_grants.c.municipality_id.is_(None), postgresql_where=role_grants.c.municipality_id.is_(None))

# Server-side sessions. Only the SHA-256 of the cookie value is stored, so a copy of the
# database does not hand out live sessions.
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    Column("remote_addr", String(64)),
    Column("user_agent", String(300)),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),  # shown in lists so people can tell tokens apart
    Column("name", String(200), nullable=False),
    Column("municipality_id", Integer, ForeignKey("municipalities.id"), nullable=False, index=True),
    Column("purpose", String(20), nullable=False),  # intake, integration
    Column("created_by", Integer, ForeignKey("users.id")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
    CheckConstraint("purpose in ('intake', 'integration')", name="purpose"),
)

# Failed log-ins, for the backoff per account and address, per address and per account.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("username", String(100), nullable=False),
    Column("remote_addr", String(64), nullable=False),
)
Index("ix_login_failures_addr_at", login_failures.c.remote_addr, login_failures.c.at)
Index("ix_login_failures_user_at", login_failures.c.username, login_failures.c.at)

# The audit log: append-only, each record hash-chained to the one before it
# (Normen requires access logging). ``seq`` is gapless so a deleted record shows.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(100), nullable=False),  # user:12, token:4, system
    Column("action", String(40), nullable=False),
    Column("municipality_id", Integer),
    Column("recipient_id", Integer),
    Column("alarm_id", String(36)),
    Column("purpose", String(200)),
    Column("details", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
Index("ix_audit_log_recipient", audit_log.c.recipient_id, audit_log.c.at)
Index("ix_audit_log_actor", audit_log.c.actor, audit_log.c.at)

# One row: the chain's head. Appenders lock it (FOR UPDATE on PostgreSQL) so two nodes
# can never both extend the chain from the same record.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)


# --- economy (docs/economy.md) ---------------------------------------------------------------

# When a recipient had the service: the invoice counts active users day by day from these.
# [starts_on, ends_on) in Oslo dates; a deactivated recipient's period ends the day they were
# deactivated, and reactivation opens a new one (registry/service.py keeps them).
service_periods = Table(
    "service_periods",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("recipient_id", Integer, ForeignKey("recipients.id", ondelete="CASCADE"), nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date),
    CheckConstraint("ends_on is null or ends_on >= starts_on", name="ordered"),
)
Index("ix_service_periods_recipient", service_periods.c.recipient_id, service_periods.c.starts_on)

# An agreement's price model for a stretch of time: components as data (economy/pricing.py),
# prices in the base year, indexed by the deflators for later years.
price_models = Table(
    "price_models",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("agreement_id", Integer, ForeignKey("agreements.id"), nullable=False, index=True),
    Column("valid_from", Date, nullable=False),  # the first day of a month
    Column("valid_to", Date),  # exclusive; open-ended when NULL
    Column("base_year", Integer, nullable=False),
    Column("components", JSON, nullable=False),
    Column("notes", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
)

# Money is stored as whole øre (BIGINT): exact on both databases, where SQLite has no decimal type.
budgets = Table(
    "budgets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("centre_id", Integer, ForeignKey("centres.id"), nullable=False),
    Column("year", Integer, nullable=False),
    Column("name", String(60), nullable=False),
    Column("amount_ore", BigInteger, nullable=False),
    Column("fixed_share", String(8), nullable=False),  # a decimal fraction as text, e.g. "0.41"
    UniqueConstraint("centre_id", "year", "name", name="uq_budgets_centre_year_name"),
)

# The municipal deflator (kommunal deflator) by year, as a decimal fraction in text ("0.043").
deflators = Table(
    "deflators",
    metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("rate", String(10), nullable=False),
    Column("source", Text),
)

# An invoice run: every municipality's lines for whole Oslo months. A draft can be discarded;
# an approved run is immutable (refused in economy/invoicing.py and by database triggers,
# migration 0008).
invoice_runs = Table(
    "invoice_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("centre_id", Integer, ForeignKey("centres.id"), nullable=False),
    Column("period_first", Date, nullable=False),
    Column("months", Integer, nullable=False),
    Column("state", String(10), nullable=False),
    Column("total_ore", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("approved_at", UTCDateTime),
    Column("approved_by", String(100)),
    CheckConstraint("state in ('draft', 'approved')", name="state"),
)
Index("ix_invoice_runs_period", invoice_runs.c.centre_id, invoice_runs.c.period_first)

invoice_lines = Table(
    "invoice_lines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("invoice_runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("municipality_id", Integer, ForeignKey("municipalities.id"), nullable=False),
    Column("price_model_id", Integer, ForeignKey("price_models.id"), nullable=False),
    Column("component", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("description", String(200), nullable=False),
    Column("quantity", String(20), nullable=False),  # decimal text: user-months, events, inhabitants
    Column("unit", String(20), nullable=False),
    Column("unit_price_ore", BigInteger),
    Column("amount_ore", BigInteger, nullable=False),
    Column("due_on", Date),
    # What the line counted, to find it again: alarm types and bounds, device kinds, budget.
    Column("basis", JSON, nullable=False),
    # A per-user line's recipients and their active days, [[recipient_id, days], …], kept with
    # the line: the register changes later, the invoice must still show whom it counted. One
    # JSON value, not a row per recipient: a run counts every recipient of the collaboration,
    # and 120,000 rows (each checked by foreign keys and the approval guard) were most of
    # the time it took to store one.
    Column("recipients", JSON),
)

# --- operations ----------------------------------------------------------------------

# One row per node, written by its readiness probe through the journal every few seconds
# (web/health.py): a commit that proves the node can write, and for operators a list of
# the nodes that are alive and their versions.
node_heartbeats = Table(
    "node_heartbeats",
    metadata,
    Column("node", String(200), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("beat_at", UTCDateTime, nullable=False),
    Column("version", String(40), nullable=False),
    # Counts the probes: every probe changes the row, so SQLite really writes (it skips a
    # page whose content did not change) and a full disk or read-only file shows.
    Column("beats", BigInteger, nullable=False),
)
