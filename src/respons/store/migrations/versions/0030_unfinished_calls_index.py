"""voice_calls: ix_voice_calls_unfinished, the calls still ringing or answered by node, for a
restarted node and for the sweep that ends the calls of a node gone (voice/service.py)

Revision ID: 0030
Revises: 0029
"""
import sqlalchemy as sa
from alembic import op

from respons.store.migrations import online

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

_UNFINISHED = sa.text("state IN ('ringing', 'answered')")


def upgrade() -> None:
    online.build_index('ix_voice_calls_unfinished', 'voice_calls', ['node'], unique=False,
                       sqlite_where=_UNFINISHED, postgresql_where=_UNFINISHED)


def downgrade() -> None:
    op.drop_index('ix_voice_calls_unfinished', table_name='voice_calls')
