"""operations: node_heartbeats, the readiness probe's row per node

``/readyz`` answers 200 only if the node can commit. A read would pass on a read-only
SQLite file or a full disk, so each node's probe UPSERTs its own row here through the
journal every few seconds (web/health.py, docs/operations-health.md); the rows also tell
an operator which nodes are alive and which version they run.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

from respons.store.types import UTCDateTime

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'node_heartbeats',
        sa.Column('node', sa.String(length=200), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=False),
        sa.Column('beat_at', UTCDateTime(), nullable=False),
        sa.Column('version', sa.String(length=40), nullable=False),
        sa.Column('beats', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('node', name=op.f('pk_node_heartbeats')),
    )


def downgrade() -> None:
    op.drop_table('node_heartbeats')
