"""deviation reports (avvik): deviations and their timelines; an index for statistics

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa
import respons.store.types


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('deviations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('alarm_id', sa.String(length=36), nullable=True),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('state', sa.String(length=15), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('proposed_by_system', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('created_at', respons.store.types.UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('assigned_to', sa.String(length=100), nullable=True),
    sa.Column('closed_at', respons.store.types.UTCDateTime(), nullable=True),
    sa.Column('conclusion', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], name=op.f('fk_deviations_alarm_id_alarms')),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'], name=op.f('fk_deviations_municipality_id_municipalities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deviations')),
    sa.UniqueConstraint('alarm_id', 'category', name='uq_deviations_alarm_category')
    )
    op.create_index(op.f('ix_deviations_municipality_id'), 'deviations', ['municipality_id'], unique=False)
    op.create_index('ix_deviations_created', 'deviations', ['municipality_id', 'created_at'], unique=False)
    op.create_table('deviation_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('deviation_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('at', respons.store.types.UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['deviation_id'], ['deviations.id'], name=op.f('fk_deviation_events_deviation_id_deviations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deviation_events')),
    sa.UniqueConstraint('deviation_id', 'seq', name='uq_deviation_events_seq')
    )
    op.create_index('ix_alarms_municipality_received', 'alarms', ['municipality_id', 'received_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_alarms_municipality_received', table_name='alarms')
    op.drop_table('deviation_events')
    op.drop_index('ix_deviations_created', table_name='deviations')
    op.drop_index(op.f('ix_deviations_municipality_id'), table_name='deviations')
    op.drop_table('deviations')
