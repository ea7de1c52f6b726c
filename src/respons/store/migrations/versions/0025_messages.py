"""messages: one outbox for SMS and Web Push with states, receipts and confirmations
(replaces sms_outbox); push subscriptions; the agreement's time for next of kin to confirm

Revision ID: 0025
Revises: 0024
"""
import uuid

import sqlalchemy as sa
from alembic import op

from respons.store.types import UTCDateTime

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('agreements') as batch:
        batch.add_column(sa.Column('kin_confirm_minutes', sa.SmallInteger(), nullable=True))
    op.create_table(
        'push_subscriptions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('endpoint', sa.Text(), nullable=False),
        sa.Column('endpoint_hash', sa.String(length=64), nullable=False),
        sa.Column('p256dh', sa.String(length=200), nullable=False),
        sa.Column('auth', sa.String(length=100), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('gone_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_push_subscriptions_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_push_subscriptions')),
        sa.UniqueConstraint('endpoint_hash', name=op.f('uq_push_subscriptions_endpoint_hash')),
    )
    op.create_index(op.f('ix_push_subscriptions_user_id'), 'push_subscriptions', ['user_id'], unique=False)
    messages = op.create_table(
        'messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uid', sa.String(length=36), nullable=False),
        sa.Column('dedupe_key', sa.String(length=120), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('purpose', sa.String(length=20), nullable=False),
        sa.Column('alarm_id', sa.String(length=36), nullable=True),
        sa.Column('municipality_id', sa.Integer(), nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('subscription_id', sa.Integer(), nullable=True),
        sa.Column('to_address', sa.String(length=20), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('code', sa.String(length=8), nullable=True),
        sa.Column('state', sa.String(length=12), nullable=False),
        sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('due_at', UTCDateTime(), nullable=True),
        sa.Column('expires_at', UTCDateTime(), nullable=False),
        sa.Column('claimed_by', sa.String(length=100), nullable=True),
        sa.Column('lease_until', UTCDateTime(), nullable=True),
        sa.Column('provider', sa.String(length=40), nullable=True),
        sa.Column('segments', sa.SmallInteger(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('sent_at', UTCDateTime(), nullable=True),
        sa.Column('delivered_at', UTCDateTime(), nullable=True),
        sa.Column('failed_at', UTCDateTime(), nullable=True),
        sa.Column('confirmed_at', UTCDateTime(), nullable=True),
        sa.Column('declined_at', UTCDateTime(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('link_hash', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], name=op.f('fk_messages_alarm_id_alarms')),
        sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_messages_contact_id_contacts'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'],
                                name=op.f('fk_messages_municipality_id_municipalities')),
        sa.ForeignKeyConstraint(['subscription_id'], ['push_subscriptions.id'],
                                name=op.f('fk_messages_subscription_id_push_subscriptions'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_messages_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
        sa.UniqueConstraint('uid', name=op.f('uq_messages_uid')),
        sa.UniqueConstraint('dedupe_key', name=op.f('uq_messages_dedupe_key')),
        sa.UniqueConstraint('link_hash', name=op.f('uq_messages_link_hash')),
    )
    op.create_index(op.f('ix_messages_alarm_id'), 'messages', ['alarm_id'], unique=False)
    op.create_index(op.f('ix_messages_municipality_id'), 'messages', ['municipality_id'], unique=False)
    op.create_index('ix_messages_due', 'messages', ['state', 'due_at'], unique=False)
    op.create_index('ix_messages_to_address', 'messages', ['to_address', 'created_at'], unique=False)
    op.create_table(
        'message_parts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=True),
        sa.Column('provider', sa.String(length=40), nullable=False),
        sa.Column('ref', sa.String(length=100), nullable=False),
        sa.Column('seq', sa.SmallInteger(), nullable=True),
        sa.Column('state', sa.String(length=12), nullable=True),
        sa.Column('receipt_at', UTCDateTime(), nullable=True),
        sa.Column('number', sa.String(length=20), nullable=True),
        sa.Column('text_start', sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_message_parts_message_id_messages'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_message_parts')),
        sa.UniqueConstraint('provider', 'ref', name='uq_message_parts_provider_ref'),
    )
    op.create_index(op.f('ix_message_parts_message_id'), 'message_parts', ['message_id'], unique=False)
    # The local recorder's rows: kept as what they were — recorded, never sent to anyone — so
    # they count as no sent message and no reply can answer them.
    old = sa.table('sms_outbox', sa.column('id'), sa.column('created_at'), sa.column('alarm_id'),
                   sa.column('municipality_id'), sa.column('to_phone'), sa.column('body'), sa.column('status'),
                   sa.column('provider'), sa.column('sent_at'), sa.column('error'))
    rows = op.get_bind().execute(sa.select(old)).all()
    if rows:
        op.bulk_insert(messages, [
            dict(uid=str(uuid.uuid4()), dedupe_key=f"sms_outbox:{r.id}", channel='sms', purpose='recorded',
                 alarm_id=r.alarm_id, municipality_id=r.municipality_id, to_address=r.to_phone, body=r.body,
                 state='not_sent', attempts=0, expires_at=r.created_at, provider=r.provider, created_at=r.created_at,
                 last_error=r.error or "recorded by the local recorder; never sent")
            for r in rows])
    op.drop_table('sms_outbox')


def downgrade() -> None:
    op.create_table(
        'sms_outbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('alarm_id', sa.String(length=36), nullable=True),
        sa.Column('municipality_id', sa.Integer(), nullable=False),
        sa.Column('to_phone', sa.String(length=20), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('provider', sa.String(length=40), nullable=True),
        sa.Column('sent_at', UTCDateTime(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], name=op.f('fk_sms_outbox_alarm_id_alarms')),
        sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'],
                                name=op.f('fk_sms_outbox_municipality_id_municipalities')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_outbox')),
    )
    op.drop_index(op.f('ix_message_parts_message_id'), table_name='message_parts')
    op.drop_table('message_parts')
    op.drop_index('ix_messages_to_address', table_name='messages')
    op.drop_index('ix_messages_due', table_name='messages')
    op.drop_index(op.f('ix_messages_municipality_id'), table_name='messages')
    op.drop_index(op.f('ix_messages_alarm_id'), table_name='messages')
    op.drop_table('messages')
    op.drop_index(op.f('ix_push_subscriptions_user_id'), table_name='push_subscriptions')
    op.drop_table('push_subscriptions')
    with op.batch_alter_table('agreements') as batch:
        batch.drop_column('kin_confirm_minutes')
