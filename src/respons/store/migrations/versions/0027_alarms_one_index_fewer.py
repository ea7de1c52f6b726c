"""alarms: one index fewer to write per alarm (ix_alarms_municipality_id goes; its column leads
ix_alarms_municipality_received, which serves every lookup by municipality)

Revision ID: 0027
Revises: 0026
"""
from alembic import op

from respons.store.migrations import online

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    online.drop_index('ix_alarms_municipality_id', 'alarms')


def downgrade() -> None:
    op.create_index('ix_alarms_municipality_id', 'alarms', ['municipality_id'], unique=False)
