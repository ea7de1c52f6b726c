"""the patient record: epj_endpoints, where each municipality's EPJ receives VKP documents

One row per municipality that has an EPJ endpoint: the FHIR base URL and how Respons
authenticates (none for a test server, mutual TLS, or HelseID's client credentials with a
signed JWT client assertion). Key and certificate files are named by path, never stored in
the database (docs/epj.md, "Configuration per municipality").

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

from respons.store.types import UTCDateTime

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'epj_endpoints',
        sa.Column('municipality_id', sa.Integer(), nullable=False),
        sa.Column('base_url', sa.String(length=500), nullable=False),
        sa.Column('auth', sa.String(length=20), nullable=False),
        sa.Column('client_id', sa.String(length=200), nullable=True),
        sa.Column('token_url', sa.String(length=500), nullable=True),
        sa.Column('scope', sa.String(length=500), nullable=True),
        sa.Column('key_file', sa.String(length=500), nullable=True),
        sa.Column('cert_file', sa.String(length=500), nullable=True),
        sa.Column('ca_file', sa.String(length=500), nullable=True),
        sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.CheckConstraint("auth in ('none', 'mtls', 'helseid')", name=op.f('ck_epj_endpoints_auth')),
        sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'],
                                name=op.f('fk_epj_endpoints_municipality_id_municipalities')),
        sa.PrimaryKeyConstraint('municipality_id', name=op.f('pk_epj_endpoints')),
    )


def downgrade() -> None:
    op.drop_table('epj_endpoints')
