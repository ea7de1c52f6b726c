"""digital supervision: a look-in's own identity (supervision_lookins.uid), and the outbox documents a look-in too

Revision ID: 0023
Revises: 0022
"""
import uuid

import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

ONE_SUBJECT = ("(CASE WHEN alarm_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN dose_id IS NULL THEN 0 ELSE 1 END)"
               " + (CASE WHEN lookin_id IS NULL THEN 0 ELSE 1 END) = 1")


def upgrade() -> None:
    with op.batch_alter_table('supervision_lookins') as batch:
        batch.add_column(sa.Column('uid', sa.String(length=36), nullable=True))
    lookins = sa.table('supervision_lookins', sa.column('id', sa.Integer), sa.column('uid', sa.String))
    connection = op.get_bind()
    for (lookin_id,) in connection.execute(sa.select(lookins.c.id)).all():
        connection.execute(lookins.update().where(lookins.c.id == lookin_id).values(uid=str(uuid.uuid4())))
    with op.batch_alter_table('supervision_lookins') as batch:
        batch.alter_column('uid', existing_type=sa.String(length=36), nullable=False)
        batch.create_unique_constraint(op.f('uq_supervision_lookins_uid'), ['uid'])
    # SQLite cannot add a constraint in place: the batch copies the table.
    with op.batch_alter_table('epj_documents') as batch:
        batch.add_column(sa.Column('lookin_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f('fk_epj_documents_lookin_id_supervision_lookins'), 'supervision_lookins',
                                 ['lookin_id'], ['id'])
        batch.create_unique_constraint(op.f('uq_epj_documents_lookin_id'), ['lookin_id'])
        batch.drop_constraint(op.f('ck_epj_documents_one_subject'), type_='check')
        batch.create_check_constraint(op.f('ck_epj_documents_one_subject'), ONE_SUBJECT)


def downgrade() -> None:
    op.execute("DELETE FROM epj_documents WHERE lookin_id IS NOT NULL")
    with op.batch_alter_table('epj_documents') as batch:
        batch.drop_constraint(op.f('ck_epj_documents_one_subject'), type_='check')
        batch.create_check_constraint(op.f('ck_epj_documents_one_subject'), '(alarm_id IS NULL) <> (dose_id IS NULL)')
        batch.drop_constraint(op.f('uq_epj_documents_lookin_id'), type_='unique')
        batch.drop_constraint(op.f('fk_epj_documents_lookin_id_supervision_lookins'), type_='foreignkey')
        batch.drop_column('lookin_id')
    with op.batch_alter_table('supervision_lookins') as batch:
        batch.drop_constraint(op.f('uq_supervision_lookins_uid'), type_='unique')
        batch.drop_column('uid')
