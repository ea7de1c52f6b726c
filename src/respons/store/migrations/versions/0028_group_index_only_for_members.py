"""alarms: ix_alarms_group_state holds storm members only (WHERE group_id IS NOT NULL), so the
alarms that belong to no group — nearly all — are written to one index fewer. Every lookup
through it asks for a group (group_id = …, group_id IN …), which implies the condition.

Revision ID: 0028
Revises: 0027
"""
import sqlalchemy as sa
from alembic import op

from respons.store.migrations import online

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

_MEMBERS = sa.text("group_id IS NOT NULL")


def upgrade() -> None:
    online.rebuild_index('ix_alarms_group_state', 'alarms', ['group_id', 'state'], unique=False,
                         sqlite_where=_MEMBERS, postgresql_where=_MEMBERS)


def downgrade() -> None:
    op.drop_index('ix_alarms_group_state', table_name='alarms')
    op.create_index('ix_alarms_group_state', 'alarms', ['group_id', 'state'], unique=False)
