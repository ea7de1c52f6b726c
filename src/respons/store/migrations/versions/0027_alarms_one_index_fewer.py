"""alarms: one index fewer to write per alarm (ix_alarms_municipality_id goes; its column leads
ix_alarms_municipality_received, which serves every lookup by municipality)

Revision ID: 0027
Revises: 0026
"""
from alembic import op

from respons.store.migrations.online import outside_transaction

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with outside_transaction():  # alarms keep coming meanwhile
        op.drop_index('ix_alarms_municipality_id', table_name='alarms', postgresql_concurrently=True)


def downgrade() -> None:
    op.create_index('ix_alarms_municipality_id', 'alarms', ['municipality_id'], unique=False)
