"""planned home-care visits shown on the alarm card

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
import respons.store.types


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('planned_visits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', respons.store.types.UTCDateTime(), nullable=False),
    sa.Column('ends_at', respons.store.types.UTCDateTime(), nullable=True),
    sa.Column('service', sa.String(length=100), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'], name=op.f('fk_planned_visits_municipality_id_municipalities')),
    sa.ForeignKeyConstraint(['recipient_id'], ['recipients.id'], name=op.f('fk_planned_visits_recipient_id_recipients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_planned_visits'))
    )
    op.create_index('ix_planned_visits_recipient_starts', 'planned_visits', ['recipient_id', 'starts_at'], unique=False)
    op.create_index(op.f('ix_planned_visits_municipality_id'), 'planned_visits', ['municipality_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_planned_visits_municipality_id'), table_name='planned_visits')
    op.drop_index('ix_planned_visits_recipient_starts', table_name='planned_visits')
    op.drop_table('planned_visits')
