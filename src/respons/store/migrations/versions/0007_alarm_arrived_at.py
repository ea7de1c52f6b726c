"""statistics: home care's first arrival projected onto the alarm row

The reports count arrival times for every alarm of a period; reading them off the
timeline meant one index lookup into the events table per alarm. The projection already
carries the other times (queued, answered, resolved), so the arrival joins them, filled in
here from the existing timelines.

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa
import respons.store.types


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('alarms', sa.Column('arrived_at', respons.store.types.UTCDateTime(), nullable=True))
    action = ("json_extract(e.data, '$.action')" if op.get_bind().dialect.name == "sqlite"
              else "(e.data ->> 'action')")
    first_arrival = (f"SELECT min(e.at) FROM alarm_events e WHERE e.alarm_id = alarms.id "
                     f"AND e.kind = 'action' AND {action} = 'arrived'")
    op.execute(f"UPDATE alarms SET arrived_at = ({first_arrival}) WHERE EXISTS ({first_arrival})")


def downgrade() -> None:
    with op.batch_alter_table('alarms') as batch:
        batch.drop_column('arrived_at')
