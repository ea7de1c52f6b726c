"""access: the last TOTP step accepted per user; failed log-ins findable by account

A TOTP code is accepted once (RFC 6238 §5.2): ``users.totp_last_step`` remembers the newest
time step used, and log-in refuses that step and any earlier one. Failed log-ins now slow
the attacker per (account, address), per address and per account instead of locking the
account (issue 15), so ``login_failures`` is also read by user name and time.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('users', sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
    op.create_index('ix_login_failures_user_at', 'login_failures', ['username', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_login_failures_user_at', table_name='login_failures')
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('totp_last_step')
