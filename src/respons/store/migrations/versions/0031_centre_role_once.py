"""role_grants: a centre-wide role (no municipality) once per user, as a partial unique index
(the table's unique constraint treats NULL municipalities as different); duplicates a race
may have left are removed first, the oldest grant kept

Revision ID: 0031
Revises: 0030
"""
import sqlalchemy as sa
from alembic import op

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None

_CENTRE = sa.text("municipality_id IS NULL")


def upgrade() -> None:
    op.execute(
        "DELETE FROM role_grants WHERE municipality_id IS NULL AND id NOT IN ("
        "SELECT min(id) FROM role_grants WHERE municipality_id IS NULL GROUP BY user_id, role)")
    op.create_index('uq_role_grants_centre_role', 'role_grants', ['user_id', 'role'], unique=True,
                    sqlite_where=_CENTRE, postgresql_where=_CENTRE)


def downgrade() -> None:
    op.drop_index('uq_role_grants_centre_role', table_name='role_grants')
