"""supervision_plans.withdrawn_at: the moment consent was withdrawn (a plan ended on the day
itself), so no look-in of the plan starts after it, even on that last day

Revision ID: 0029
Revises: 0028
"""
import sqlalchemy as sa
from alembic import op

from respons.store.types import UTCDateTime

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('supervision_plans') as batch:
        batch.add_column(sa.Column('withdrawn_at', UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('supervision_plans') as batch:
        batch.drop_column('withdrawn_at')
