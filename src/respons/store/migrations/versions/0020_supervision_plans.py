"""digital supervision: supervision_plans (a municipality's decision to look in on a person)

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

from respons.store.types import UTCDateTime

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'supervision_plans',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('municipality_id', sa.Integer(), nullable=False),
        sa.Column('recipient_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('times', sa.JSON(), nullable=False),
        sa.Column('max_seconds', sa.Integer(), nullable=False),
        sa.Column('event_based', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('checklist', sa.JSON(), nullable=False),
        sa.Column('instructions', sa.Text(), nullable=True),
        sa.Column('consent_by', sa.String(length=200), nullable=False),
        sa.Column('consent_on', sa.Date(), nullable=False),
        sa.Column('valid_from', sa.Date(), nullable=False),
        sa.Column('valid_to', sa.Date(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.CheckConstraint("kind in ('camera', 'sensor', 'phone')", name=op.f('ck_supervision_plans_kind')),
        sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'],
                                name=op.f('fk_supervision_plans_municipality_id_municipalities')),
        sa.ForeignKeyConstraint(['recipient_id'], ['recipients.id'],
                                name=op.f('fk_supervision_plans_recipient_id_recipients'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_plans')),
    )
    op.create_index(op.f('ix_supervision_plans_recipient_id'), 'supervision_plans', ['recipient_id'])
    op.create_index(op.f('ix_supervision_plans_municipality_id'), 'supervision_plans', ['municipality_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_supervision_plans_municipality_id'), table_name='supervision_plans')
    op.drop_index(op.f('ix_supervision_plans_recipient_id'), table_name='supervision_plans')
    op.drop_table('supervision_plans')
