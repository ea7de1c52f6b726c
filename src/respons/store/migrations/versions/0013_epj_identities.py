"""the patient record: HPR number of staff, organisation number of municipalities and centres

VKP names practitioners by HPR number (Helsepersonellregisteret) and organisations by their
organisation number (Enhetsregisteret); the documents sent to the EPJ carry them where the
registry has them (docs/epj.md). Both optional: a centre starts without them.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff') as batch:
        batch.add_column(sa.Column('hpr_number', sa.String(length=9), nullable=True))
    with op.batch_alter_table('municipalities') as batch:
        batch.add_column(sa.Column('organisation_number', sa.String(length=9), nullable=True))
    with op.batch_alter_table('centres') as batch:
        batch.add_column(sa.Column('organisation_number', sa.String(length=9), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('centres') as batch:
        batch.drop_column('organisation_number')
    with op.batch_alter_table('municipalities') as batch:
        batch.drop_column('organisation_number')
    with op.batch_alter_table('staff') as batch:
        batch.drop_column('hpr_number')
