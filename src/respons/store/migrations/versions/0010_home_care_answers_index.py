"""statistics: a partial index of the answers responders gave in the app

The key figures attribute each answer to the centre or to home care (issue 14). The alarm
row's projection says when the alarm was answered and by which user, not through which
screen; the answered event's ``{"via": "responder_app"}`` does. This index holds only those
events (a few per cent of the timeline), by time, so a report finds the home-care answers
of its period without reading the rest of the timeline. See docs/statistics.md.

Revision ID: 0010
Revises: 0009
"""
from alembic import op
from sqlalchemy import text

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# Kept literally here (a migration must not change when the code does); store/tables.py has
# the same text, and the statistics queries use it verbatim so the planners match it.
WHERE = {
    "sqlite": "kind = 'answered' AND json_extract(data, '$.via') = 'responder_app'",
    "postgresql": "kind = 'answered' AND (data ->> 'via') = 'responder_app'",
}


def upgrade() -> None:
    op.create_index('ix_alarm_events_home_care_answers', 'alarm_events', ['at', 'alarm_id'], unique=False,
                    sqlite_where=text(WHERE["sqlite"]), postgresql_where=text(WHERE["postgresql"]))


def downgrade() -> None:
    op.drop_index('ix_alarm_events_home_care_answers', table_name='alarm_events')
