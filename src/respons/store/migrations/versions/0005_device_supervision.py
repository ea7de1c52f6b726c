"""device protocols and supervision: DC-09 keys, base units, silence, power-failure storm groups

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa
import respons.store.types


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('devices') as batch:
        batch.add_column(sa.Column('dc09_key', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('base_unit_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('silent_since', respons.store.types.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('silent_alarm_id', sa.String(length=36), nullable=True))
        batch.create_foreign_key(op.f('fk_devices_base_unit_id_devices'), 'devices', ['base_unit_id'], ['id'])
    op.create_index('ix_devices_alert_after', 'devices', ['alert_after'], unique=False)
    with op.batch_alter_table('alarms') as batch:
        batch.add_column(sa.Column('group_id', sa.String(length=36), nullable=True))
        batch.create_foreign_key(op.f('fk_alarms_group_id_alarms'), 'alarms', ['group_id'], ['id'])
    op.create_index('ix_alarms_group', 'alarms', ['group_id'], unique=False)
    op.create_index('ix_alarms_source_state', 'alarms', ['source', 'state'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_alarms_source_state', table_name='alarms')
    op.drop_index('ix_alarms_group', table_name='alarms')
    with op.batch_alter_table('alarms') as batch:
        batch.drop_constraint(op.f('fk_alarms_group_id_alarms'), type_='foreignkey')
        batch.drop_column('group_id')
    op.drop_index('ix_devices_alert_after', table_name='devices')
    with op.batch_alter_table('devices') as batch:
        batch.drop_constraint(op.f('fk_devices_base_unit_id_devices'), type_='foreignkey')
        batch.drop_column('silent_alarm_id')
        batch.drop_column('silent_since')
        batch.drop_column('base_unit_id')
        batch.drop_column('dc09_key')
