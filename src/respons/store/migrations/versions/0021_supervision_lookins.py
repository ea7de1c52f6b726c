"""digital supervision: supervision_lookins (each look-in with its deadlines) and the plans' scheduled_until

Revision ID: 0021
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op

from respons.store.types import UTCDateTime

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('supervision_plans') as batch:
        batch.add_column(sa.Column('scheduled_until', UTCDateTime(), nullable=True))
    op.create_table(
        'supervision_lookins',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('plan_id', sa.Integer(), nullable=False),
        sa.Column('municipality_id', sa.Integer(), nullable=False),
        sa.Column('recipient_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=10), nullable=False),
        sa.Column('method', sa.String(length=10), nullable=False),
        sa.Column('due_at', UTCDateTime(), nullable=False),
        sa.Column('planned_local', sa.String(length=16), nullable=True),
        sa.Column('shifted', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('closes_at', UTCDateTime(), nullable=False),
        sa.Column('check_at', UTCDateTime(), nullable=True),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('late', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('previous_id', sa.Integer(), nullable=True),
        sa.Column('alarm_id', sa.String(length=36), nullable=True),
        sa.Column('raised_alarm_id', sa.String(length=36), nullable=True),
        sa.Column('started_by', sa.String(length=100), nullable=True),
        sa.Column('started_at', UTCDateTime(), nullable=True),
        sa.Column('view_until', UTCDateTime(), nullable=True),
        sa.Column('outcome', sa.String(length=20), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('finished_by', sa.String(length=100), nullable=True),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.CheckConstraint("reason in ('planned', 'recheck', 'fallback', 'event')",
                           name=op.f('ck_supervision_lookins_reason')),
        sa.CheckConstraint("method in ('camera', 'sensor', 'phone')", name=op.f('ck_supervision_lookins_method')),
        sa.CheckConstraint("state in ('due', 'started', 'done', 'missed', 'cancelled')",
                           name=op.f('ck_supervision_lookins_state')),
        sa.ForeignKeyConstraint(['plan_id'], ['supervision_plans.id'],
                                name=op.f('fk_supervision_lookins_plan_id_supervision_plans'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'],
                                name=op.f('fk_supervision_lookins_municipality_id_municipalities')),
        sa.ForeignKeyConstraint(['recipient_id'], ['recipients.id'],
                                name=op.f('fk_supervision_lookins_recipient_id_recipients'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['previous_id'], ['supervision_lookins.id'],
                                name=op.f('fk_supervision_lookins_previous_id_supervision_lookins')),
        sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], name=op.f('fk_supervision_lookins_alarm_id_alarms')),
        sa.ForeignKeyConstraint(['raised_alarm_id'], ['alarms.id'],
                                name=op.f('fk_supervision_lookins_raised_alarm_id_alarms')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_lookins')),
        sa.UniqueConstraint('plan_id', 'reason', 'due_at', name='uq_supervision_lookins_plan_due'),
        sa.UniqueConstraint('previous_id', 'reason', name='uq_supervision_lookins_previous'),
    )
    op.create_index(op.f('ix_supervision_lookins_recipient_id'), 'supervision_lookins', ['recipient_id'])
    op.create_index('ix_supervision_lookins_due', 'supervision_lookins', ['municipality_id', 'due_at'])
    op.create_index('ix_supervision_lookins_check', 'supervision_lookins', ['check_at'],
                    sqlite_where=sa.text('check_at IS NOT NULL'), postgresql_where=sa.text('check_at IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_supervision_lookins_check', table_name='supervision_lookins')
    op.drop_index('ix_supervision_lookins_due', table_name='supervision_lookins')
    op.drop_index(op.f('ix_supervision_lookins_recipient_id'), table_name='supervision_lookins')
    op.drop_table('supervision_lookins')
    with op.batch_alter_table('supervision_plans') as batch:
        batch.drop_column('scheduled_until')
