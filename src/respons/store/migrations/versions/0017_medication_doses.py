"""the patient record: medication_doses, and the outbox documents a dose as well as an alarm

A dose a medication dispenser reports as given is documented as a VkpMedicationDispense
(docs/epj.md, "Medication dispensers"): ``medication_doses`` holds it, and an
``epj_documents`` row names either an alarm or a dose.

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

from respons.store.types import UTCDateTime

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'medication_doses',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('municipality_id', sa.Integer(), nullable=False),
        sa.Column('recipient_id', sa.Integer(), nullable=False),
        sa.Column('device_id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.String(length=200), nullable=False),
        sa.Column('event', sa.String(length=10), nullable=False),
        sa.Column('medication', sa.String(length=200), nullable=True),
        sa.Column('dispensed_at', UTCDateTime(), nullable=False),
        sa.Column('received_at', UTCDateTime(), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_medication_doses_device_id_devices')),
        sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'],
                                name=op.f('fk_medication_doses_municipality_id_municipalities')),
        sa.ForeignKeyConstraint(['recipient_id'], ['recipients.id'],
                                name=op.f('fk_medication_doses_recipient_id_recipients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_medication_doses')),
        sa.UniqueConstraint('device_id', 'message_id', name='uq_medication_doses_device_message'),
    )
    # SQLite cannot alter a column or add a constraint in place: the batch copies the table.
    with op.batch_alter_table('epj_documents') as batch:
        batch.alter_column('alarm_id', existing_type=sa.String(length=36), nullable=True)
        batch.add_column(sa.Column('dose_id', sa.String(length=36), nullable=True))
        batch.create_foreign_key(op.f('fk_epj_documents_dose_id_medication_doses'), 'medication_doses',
                                 ['dose_id'], ['id'])
        batch.create_unique_constraint(op.f('uq_epj_documents_dose_id'), ['dose_id'])
        batch.create_check_constraint(op.f('ck_epj_documents_one_subject'), '(alarm_id IS NULL) <> (dose_id IS NULL)')


def downgrade() -> None:
    op.execute("DELETE FROM epj_documents WHERE dose_id IS NOT NULL")
    with op.batch_alter_table('epj_documents') as batch:
        batch.drop_constraint(op.f('ck_epj_documents_one_subject'), type_='check')
        batch.drop_constraint(op.f('uq_epj_documents_dose_id'), type_='unique')
        batch.drop_constraint(op.f('fk_epj_documents_dose_id_medication_doses'), type_='foreignkey')
        batch.drop_column('dose_id')
        batch.alter_column('alarm_id', existing_type=sa.String(length=36), nullable=False)
    op.drop_table('medication_doses')
