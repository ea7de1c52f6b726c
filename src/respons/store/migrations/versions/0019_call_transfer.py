"""voice: a call handed to a colleague (voice_calls.transfer_to, transferred_from)

Revision ID: 0019
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('voice_calls') as batch:
        batch.add_column(sa.Column('transfer_to', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('transferred_from', sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('voice_calls') as batch:
        batch.drop_column('transferred_from')
        batch.drop_column('transfer_to')
