"""the patient record: epj_delivery_faults, a municipality whose EPJ deliveries fail

Since when deliveries to the municipality's EPJ fail, the deadline after which the host is
told by a technical alarm, and that alarm (docs/epj.md, "When deliveries keep failing").

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

from respons.store.types import UTCDateTime

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'epj_delivery_faults',
        sa.Column('municipality_id', sa.Integer(), nullable=False),
        sa.Column('failing_since', UTCDateTime(), nullable=True),
        sa.Column('alert_after', UTCDateTime(), nullable=True),
        sa.Column('alarm_id', sa.String(length=36), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('failures', sa.Integer(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], name=op.f('fk_epj_delivery_faults_alarm_id_alarms')),
        sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'],
                                name=op.f('fk_epj_delivery_faults_municipality_id_municipalities')),
        sa.PrimaryKeyConstraint('municipality_id', name=op.f('pk_epj_delivery_faults')),
    )
    op.create_index(op.f('ix_epj_delivery_faults_alert_after'), 'epj_delivery_faults', ['alert_after'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_epj_delivery_faults_alert_after'), table_name='epj_delivery_faults')
    op.drop_table('epj_delivery_faults')
