"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 09:36:10.934019
"""
from alembic import op
import sqlalchemy as sa
import respons.store.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('centres',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('created_at', respons.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_centres'))
    )
    op.create_table('quarantine',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('received_at', respons.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=True),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('handled_at', respons.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('handled_by', sa.String(length=100), nullable=True),
    sa.Column('handled_note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantine'))
    )
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantine_received_at'), ['received_at'], unique=False)

    op.create_table('municipalities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=4), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=12), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('created_at', respons.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role in ('host', 'cooperating')", name=op.f('ck_municipalities_role')),
    sa.CheckConstraint('population >= 0', name=op.f('ck_municipalities_population')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_municipalities_centre_id_centres')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_municipalities')),
    sa.UniqueConstraint('number', name=op.f('uq_municipalities_number'))
    )
    op.create_table('agreements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', respons.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_agreements_centre_id_centres')),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'], name=op.f('fk_agreements_municipality_id_municipalities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agreements'))
    )
    with op.batch_alter_table('agreements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agreements_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('zones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'], name=op.f('fk_zones_municipality_id_municipalities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_zones')),
    sa.UniqueConstraint('municipality_id', 'code', name='uq_zones_municipality_code')
    )
    with op.batch_alter_table('zones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_zones_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('agreement_windows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agreement_id', sa.Integer(), nullable=False),
    sa.Column('service_model', sa.SmallInteger(), nullable=False),
    sa.Column('weekdays', sa.String(length=7), server_default='1234567', nullable=False),
    sa.Column('starts', sa.Time(), nullable=False),
    sa.Column('ends', sa.Time(), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('escalation_minutes', sa.Integer(), nullable=True),
    sa.CheckConstraint('service_model in (1, 2, 3)', name=op.f('ck_agreement_windows_service_model')),
    sa.ForeignKeyConstraint(['agreement_id'], ['agreements.id'], name=op.f('fk_agreement_windows_agreement_id_agreements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agreement_windows'))
    )
    with op.batch_alter_table('agreement_windows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agreement_windows_agreement_id'), ['agreement_id'], unique=False)

    op.create_table('recipients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=True),
    sa.Column('national_id', sa.String(length=11), nullable=False),
    sa.Column('given_name', sa.String(length=100), nullable=False),
    sa.Column('family_name', sa.String(length=100), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('postal_code', sa.String(length=4), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('key_box', sa.Text(), nullable=True),
    sa.Column('language', sa.String(length=8), server_default='nb', nullable=False),
    sa.Column('response_notes', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('created_at', respons.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', respons.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'], name=op.f('fk_recipients_municipality_id_municipalities')),
    sa.ForeignKeyConstraint(['zone_id'], ['zones.id'], name=op.f('fk_recipients_zone_id_zones')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recipients')),
    sa.UniqueConstraint('national_id', name=op.f('uq_recipients_national_id'))
    )
    with op.batch_alter_table('recipients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recipients_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('competence', sa.String(length=40), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('zone_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.CheckConstraint("role in ('operator', 'responder', 'technician')", name=op.f('ck_staff_role')),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'], name=op.f('fk_staff_municipality_id_municipalities')),
    sa.ForeignKeyConstraint(['zone_id'], ['zones.id'], name=op.f('fk_staff_zone_id_zones')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff'))
    )
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('relation', sa.String(length=50), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('priority', sa.SmallInteger(), nullable=False),
    sa.Column('receives_alarms', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'], name=op.f('fk_contacts_municipality_id_municipalities')),
    sa.ForeignKeyConstraint(['recipient_id'], ['recipients.id'], name=op.f('fk_contacts_recipient_id_recipients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts'))
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_recipient_id'), ['recipient_id'], unique=False)

    op.create_table('devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('protocol', sa.String(length=20), nullable=False),
    sa.Column('identity', sa.String(length=100), nullable=False),
    sa.Column('heartbeat_interval_s', sa.Integer(), nullable=True),
    sa.Column('heartbeat_grace_s', sa.Integer(), nullable=True),
    sa.Column('last_seen_at', respons.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('alert_after', respons.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('created_at', respons.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'], name=op.f('fk_devices_municipality_id_municipalities')),
    sa.ForeignKeyConstraint(['recipient_id'], ['recipients.id'], name=op.f('fk_devices_recipient_id_recipients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices')),
    sa.UniqueConstraint('identity', name=op.f('uq_devices_identity'))
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_devices_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_recipient_id'), ['recipient_id'], unique=False)

    op.create_table('alarms',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=True),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('priority', sa.SmallInteger(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('occurred_at', respons.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', respons.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('idempotency_scope', sa.String(length=120), nullable=True),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('request_fingerprint', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('answered_at', respons.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_by', sa.String(length=100), nullable=True),
    sa.Column('resolved_at', respons.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=30), nullable=True),
    sa.Column('closed_at', respons.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answer_time_exceeded', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_alarms_device_id_devices')),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'], name=op.f('fk_alarms_municipality_id_municipalities')),
    sa.ForeignKeyConstraint(['recipient_id'], ['recipients.id'], name=op.f('fk_alarms_recipient_id_recipients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alarms')),
    sa.UniqueConstraint('idempotency_scope', 'idempotency_key', name='uq_alarms_idempotency')
    )
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alarms_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index('ix_alarms_queue', ['state', 'priority', 'received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alarms_recipient_id'), ['recipient_id'], unique=False)

    op.create_table('alarm_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('alarm_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('at', respons.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], name=op.f('fk_alarm_events_alarm_id_alarms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alarm_events')),
    sa.UniqueConstraint('alarm_id', 'seq', name='uq_alarm_events_alarm_seq')
    )
    op.create_table('timers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('alarm_id', sa.String(length=36), nullable=True),
    sa.Column('due_at', respons.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('fence', sa.Integer(), server_default='0', nullable=False),
    sa.Column('claim_token', sa.String(length=36), nullable=True),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.Column('lease_until', respons.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('fired_at', respons.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', respons.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state in ('pending', 'claimed', 'fired', 'cancelled')", name=op.f('ck_timers_state')),
    sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], name=op.f('fk_timers_alarm_id_alarms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timers'))
    )
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_timers_alarm_id'), ['alarm_id'], unique=False)
        batch_op.create_index('ix_timers_live_due', ['due_at'], unique=False, sqlite_where=sa.text("state IN ('pending', 'claimed')"), postgresql_where=sa.text("state IN ('pending', 'claimed')"))



def downgrade() -> None:
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.drop_index('ix_timers_live_due', sqlite_where=sa.text("state IN ('pending', 'claimed')"), postgresql_where=sa.text("state IN ('pending', 'claimed')"))
        batch_op.drop_index(batch_op.f('ix_timers_alarm_id'))

    op.drop_table('timers')
    op.drop_table('alarm_events')
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alarms_recipient_id'))
        batch_op.drop_index('ix_alarms_queue')
        batch_op.drop_index(batch_op.f('ix_alarms_municipality_id'))

    op.drop_table('alarms')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_devices_recipient_id'))
        batch_op.drop_index(batch_op.f('ix_devices_municipality_id'))

    op.drop_table('devices')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_recipient_id'))
        batch_op.drop_index(batch_op.f('ix_contacts_municipality_id'))

    op.drop_table('contacts')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_municipality_id'))

    op.drop_table('staff')
    with op.batch_alter_table('recipients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recipients_municipality_id'))

    op.drop_table('recipients')
    with op.batch_alter_table('agreement_windows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agreement_windows_agreement_id'))

    op.drop_table('agreement_windows')
    with op.batch_alter_table('zones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_zones_municipality_id'))

    op.drop_table('zones')
    with op.batch_alter_table('agreements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agreements_municipality_id'))

    op.drop_table('agreements')
    op.drop_table('municipalities')
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantine_received_at'))

    op.drop_table('quarantine')
    op.drop_table('centres')
