"""digital supervision: what a plan does when the camera shows nothing (supervision_plans.fallback)

Revision ID: 0024
Revises: 0023
"""
import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('supervision_plans') as batch:
        batch.add_column(sa.Column('fallback', sa.String(length=10), server_default='phone', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('supervision_plans') as batch:
        batch.drop_column('fallback')
