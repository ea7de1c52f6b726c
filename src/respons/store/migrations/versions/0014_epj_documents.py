"""the patient record: epj_documents, the outbox of VKP documents to the municipalities' EPJ

One row per version of an alarm's document: written in the unit of work that closes the
alarm (or adds an addendum), delivered by a worker after the commit (docs/epj.md). A row
waiting or failing is due again at ``due_at``; a newer version supersedes an older one that
has not been delivered.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

from respons.store.types import UTCDateTime

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'epj_documents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('alarm_id', sa.String(length=36), nullable=False),
        sa.Column('municipality_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('bundle', sa.JSON(), nullable=True),
        sa.Column('problems', sa.JSON(), nullable=True),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('due_at', UTCDateTime(), nullable=True),
        sa.Column('claimed_by', sa.String(length=200), nullable=True),
        sa.Column('lease_until', UTCDateTime(), nullable=True),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('outcome', sa.JSON(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('delivered_at', UTCDateTime(), nullable=True),
        sa.CheckConstraint("state in ('waiting', 'delivered', 'refused', 'failed', 'not_documented', 'superseded')",
                           name=op.f('ck_epj_documents_state')),
        sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], name=op.f('fk_epj_documents_alarm_id_alarms')),
        sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'],
                                name=op.f('fk_epj_documents_municipality_id_municipalities')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_epj_documents')),
        sa.UniqueConstraint('alarm_id', 'version', name='uq_epj_documents_alarm_version'),
    )
    op.create_index('ix_epj_documents_alarm_id', 'epj_documents', ['alarm_id'])
    op.create_index('ix_epj_documents_state_due', 'epj_documents', ['state', 'due_at'])


def downgrade() -> None:
    op.drop_index('ix_epj_documents_state_due', table_name='epj_documents')
    op.drop_index('ix_epj_documents_alarm_id', table_name='epj_documents')
    op.drop_table('epj_documents')
