"""voice: voice_calls, and where the centre calls each unit back (devices.voice_uri)

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

from respons.store.types import UTCDateTime

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'voice_calls',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('alarm_id', sa.String(length=36), nullable=True),
        sa.Column('municipality_id', sa.Integer(), nullable=True),
        sa.Column('direction', sa.String(length=10), nullable=False),
        sa.Column('target_kind', sa.String(length=20), nullable=False),
        sa.Column('target_label', sa.String(length=200), nullable=False),
        sa.Column('address', sa.String(length=200), nullable=False),
        sa.Column('operator', sa.String(length=100), nullable=True),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('failure', sa.String(length=20), nullable=True),
        sa.Column('sip_code', sa.Integer(), nullable=True),
        sa.Column('node', sa.String(length=200), nullable=False),
        sa.Column('remote_sdp', sa.Text(), nullable=True),
        sa.Column('accepted_by', sa.String(length=100), nullable=True),
        sa.Column('browser_sdp', sa.Text(), nullable=True),
        sa.Column('on_hold', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('request', sa.String(length=10), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('answered_at', UTCDateTime(), nullable=True),
        sa.Column('ended_at', UTCDateTime(), nullable=True),
        sa.CheckConstraint("state in ('ringing', 'answered', 'ended', 'failed', 'lost')",
                           name=op.f('ck_voice_calls_state')),
        sa.CheckConstraint("direction in ('outbound', 'inbound')", name=op.f('ck_voice_calls_direction')),
        sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], name=op.f('fk_voice_calls_alarm_id_alarms')),
        sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'],
                                name=op.f('fk_voice_calls_municipality_id_municipalities')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_voice_calls')),
    )
    op.create_index(op.f('ix_voice_calls_alarm_id'), 'voice_calls', ['alarm_id'], unique=False)
    with op.batch_alter_table('devices') as batch:
        batch.add_column(sa.Column('voice_uri', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('devices') as batch:
        batch.drop_column('voice_uri')
    op.drop_index(op.f('ix_voice_calls_alarm_id'), table_name='voice_calls')
    op.drop_table('voice_calls')
