"""outages: the network a device reports through (devices.network), and a storm's open members
found by one index lookup (ix_alarms_group_state replaces ix_alarms_group)

Revision ID: 0026
Revises: 0025
"""
import sqlalchemy as sa
from alembic import op

from respons.store.migrations import online

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IF NOT EXISTS on PostgreSQL: a run that failed at the index below has committed this.
    op.add_column('devices', sa.Column('network', sa.String(length=100), nullable=True),
                  if_not_exists=True if online.postgres() else None)
    # The new index first: the table is never without one for group lookups.
    online.build_index('ix_alarms_group_state', 'alarms', ['group_id', 'state'], unique=False)
    online.drop_index('ix_alarms_group', 'alarms')


def downgrade() -> None:
    op.drop_index('ix_alarms_group_state', table_name='alarms')
    op.create_index('ix_alarms_group', 'alarms', ['group_id'], unique=False)
    # A plain DROP COLUMN (SQLite 3.35+): a batch rebuild of devices would trip over the
    # foreign keys that point at it.
    op.drop_column('devices', 'network')
