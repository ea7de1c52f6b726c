"""routing: frozen plans on alarms, missions, staffed housing, next of kin, responder presence, SMS outbox

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa
import respons.store.types


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('zones') as batch:
        batch.add_column(sa.Column('staffed_housing', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    with op.batch_alter_table('recipients') as batch:
        batch.add_column(sa.Column('kin_categories', sa.JSON(), nullable=True))
    with op.batch_alter_table('agreements') as batch:
        batch.add_column(sa.Column('resend_seconds', sa.Integer(), nullable=True))
    with op.batch_alter_table('agreement_windows') as batch:
        batch.add_column(sa.Column('device_kinds', sa.JSON(), nullable=True))
    with op.batch_alter_table('alarms') as batch:
        batch.add_column(sa.Column('queued_at', respons.store.types.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('route', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('route_step', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('mission', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('missing_response', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.create_table('responder_presence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('logged_in_at', respons.store.types.UTCDateTime(), nullable=False),
    sa.Column('logged_out_at', respons.store.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'], name=op.f('fk_responder_presence_municipality_id_municipalities')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_responder_presence_user_id_users')),
    sa.ForeignKeyConstraint(['zone_id'], ['zones.id'], name=op.f('fk_responder_presence_zone_id_zones')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_responder_presence'))
    )
    op.create_index('ix_responder_presence_zone_open', 'responder_presence', ['zone_id', 'logged_out_at'], unique=False)
    op.create_index('ix_responder_presence_user', 'responder_presence', ['user_id', 'logged_out_at'], unique=False)
    op.create_table('sms_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', respons.store.types.UTCDateTime(), nullable=False),
    sa.Column('alarm_id', sa.String(length=36), nullable=True),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('to_phone', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('provider', sa.String(length=40), nullable=True),
    sa.Column('sent_at', respons.store.types.UTCDateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], name=op.f('fk_sms_outbox_alarm_id_alarms')),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'], name=op.f('fk_sms_outbox_municipality_id_municipalities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_outbox'))
    )


def downgrade() -> None:
    op.drop_table('sms_outbox')
    op.drop_index('ix_responder_presence_user', table_name='responder_presence')
    op.drop_index('ix_responder_presence_zone_open', table_name='responder_presence')
    op.drop_table('responder_presence')
    with op.batch_alter_table('alarms') as batch:
        batch.drop_column('missing_response')
        batch.drop_column('mission')
        batch.drop_column('route_step')
        batch.drop_column('route')
        batch.drop_column('queued_at')
    with op.batch_alter_table('agreement_windows') as batch:
        batch.drop_column('device_kinds')
    with op.batch_alter_table('agreements') as batch:
        batch.drop_column('resend_seconds')
    with op.batch_alter_table('recipients') as batch:
        batch.drop_column('kin_categories')
    with op.batch_alter_table('zones') as batch:
        batch.drop_column('staffed_housing')
