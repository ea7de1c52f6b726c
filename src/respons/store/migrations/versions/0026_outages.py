"""outages: the network a device reports through (devices.network), and a storm's open members
found by one index lookup (ix_alarms_group_state replaces ix_alarms_group)

Revision ID: 0026
Revises: 0025
"""
import sqlalchemy as sa
from alembic import op

from respons.store.migrations.online import outside_transaction

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('devices') as batch:
        batch.add_column(sa.Column('network', sa.String(length=100), nullable=True))
    with outside_transaction():  # alarms keep coming meanwhile
        op.drop_index('ix_alarms_group', table_name='alarms', postgresql_concurrently=True)
        op.create_index('ix_alarms_group_state', 'alarms', ['group_id', 'state'], unique=False,
                        postgresql_concurrently=True)


def downgrade() -> None:
    op.drop_index('ix_alarms_group_state', table_name='alarms')
    op.create_index('ix_alarms_group', 'alarms', ['group_id'], unique=False)
    # A plain DROP COLUMN (SQLite 3.35+): a batch rebuild of devices would trip over the
    # foreign keys that point at it.
    op.drop_column('devices', 'network')
