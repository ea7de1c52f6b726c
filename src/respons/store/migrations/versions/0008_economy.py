"""economy: service periods, price models, budgets, deflators and invoice runs

Approved invoice runs are immutable: besides the engine's refusal, triggers refuse any
change to an approved run and its lines (with the recipients each line counted), so no code
path (nor a hand-written UPDATE) can alter an invoice that has been sent.

Revision ID: 0008
Revises: 0007
"""
from datetime import timezone
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa
import respons.store.types


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

OSLO = ZoneInfo("Europe/Oslo")
FINAL = "an approved invoice run cannot be changed"


def upgrade() -> None:
    service_periods = op.create_table('service_periods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.CheckConstraint('ends_on is null or ends_on >= starts_on', name=op.f('ck_service_periods_ordered')),
    sa.ForeignKeyConstraint(['recipient_id'], ['recipients.id'], name=op.f('fk_service_periods_recipient_id_recipients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_periods'))
    )
    op.create_index('ix_service_periods_recipient', 'service_periods', ['recipient_id', 'starts_on'], unique=False)
    op.create_table('price_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agreement_id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('base_year', sa.Integer(), nullable=False),
    sa.Column('components', sa.JSON(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', respons.store.types.UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['agreement_id'], ['agreements.id'], name=op.f('fk_price_models_agreement_id_agreements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_models'))
    )
    op.create_index(op.f('ix_price_models_agreement_id'), 'price_models', ['agreement_id'], unique=False)
    op.create_table('budgets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('amount_ore', sa.BigInteger(), nullable=False),
    sa.Column('fixed_share', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_budgets_centre_id_centres')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_budgets')),
    sa.UniqueConstraint('centre_id', 'year', 'name', name='uq_budgets_centre_year_name')
    )
    op.create_table('deflators',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('rate', sa.String(length=10), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_deflators'))
    )
    op.create_table('invoice_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('period_first', sa.Date(), nullable=False),
    sa.Column('months', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('total_ore', sa.BigInteger(), nullable=False),
    sa.Column('created_at', respons.store.types.UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('approved_at', respons.store.types.UTCDateTime(), nullable=True),
    sa.Column('approved_by', sa.String(length=100), nullable=True),
    sa.CheckConstraint("state in ('draft', 'approved')", name=op.f('ck_invoice_runs_state')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_invoice_runs_centre_id_centres')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_runs'))
    )
    op.create_index('ix_invoice_runs_period', 'invoice_runs', ['centre_id', 'period_first'], unique=False)
    op.create_table('invoice_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('price_model_id', sa.Integer(), nullable=False),
    sa.Column('component', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('quantity', sa.String(length=20), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('unit_price_ore', sa.BigInteger(), nullable=True),
    sa.Column('amount_ore', sa.BigInteger(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('basis', sa.JSON(), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'], name=op.f('fk_invoice_lines_municipality_id_municipalities')),
    sa.ForeignKeyConstraint(['price_model_id'], ['price_models.id'], name=op.f('fk_invoice_lines_price_model_id_price_models')),
    sa.ForeignKeyConstraint(['run_id'], ['invoice_runs.id'], name=op.f('fk_invoice_lines_run_id_invoice_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_lines'))
    )
    op.create_index(op.f('ix_invoice_lines_run_id'), 'invoice_lines', ['run_id'], unique=False)
    _backfill_service_periods(service_periods)
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _backfill_service_periods(service_periods) -> None:
    # Recipients so far have only ``active``: their service began the (Oslo) day they were
    # registered and, if inactive now, ended the day of their last change.
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, created_at, updated_at, active FROM recipients")).all()

    def oslo_day(moment):
        if isinstance(moment, str):  # SQLite returns the stored text
            from datetime import datetime
            moment = datetime.fromisoformat(moment)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(OSLO).date()

    periods = []
    for r in rows:
        starts = oslo_day(r.created_at)
        ends = None if r.active else max(starts, oslo_day(r.updated_at))
        periods.append({"recipient_id": r.id, "starts_on": starts, "ends_on": ends})
    if periods:
        op.bulk_insert(service_periods, periods)


def _sqlite_triggers() -> None:
    refuse = f"BEGIN SELECT RAISE(ABORT, '{FINAL}'); END"
    run_of_line = "(SELECT state FROM invoice_runs WHERE id = {line}.run_id)"
    statements = [
        f"CREATE TRIGGER invoice_runs_final_update BEFORE UPDATE ON invoice_runs WHEN OLD.state = 'approved' {refuse}",
        f"CREATE TRIGGER invoice_runs_final_delete BEFORE DELETE ON invoice_runs WHEN OLD.state = 'approved' {refuse}",
        f"CREATE TRIGGER invoice_lines_final_insert BEFORE INSERT ON invoice_lines "
        f"WHEN {run_of_line.format(line='NEW')} = 'approved' {refuse}",
        f"CREATE TRIGGER invoice_lines_final_update BEFORE UPDATE ON invoice_lines "
        f"WHEN {run_of_line.format(line='OLD')} = 'approved' {refuse}",
        f"CREATE TRIGGER invoice_lines_final_delete BEFORE DELETE ON invoice_lines "
        f"WHEN {run_of_line.format(line='OLD')} = 'approved' {refuse}",
    ]
    for statement in statements:
        op.execute(statement)


def _postgresql_triggers() -> None:
    # The run itself: a row trigger (a run is one row). Its lines: one check per statement
    # over the rows it touched (a transition table), not a query per row.
    op.execute(f"""
        CREATE FUNCTION invoice_run_is_final() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.state = 'approved' THEN
                RAISE EXCEPTION '{FINAL}' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        END $$""")
    op.execute("CREATE TRIGGER invoice_runs_final BEFORE UPDATE OR DELETE ON invoice_runs "
               "FOR EACH ROW EXECUTE FUNCTION invoice_run_is_final()")
    op.execute(f"""
        CREATE FUNCTION invoice_lines_are_final() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM touched t JOIN invoice_runs r ON r.id = t.run_id WHERE r.state = 'approved') THEN
                RAISE EXCEPTION '{FINAL}' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NULL;
        END $$""")
    # One trigger per event: a trigger with a transition table has one event. An UPDATE is
    # checked on the rows before (changing an approved line) and after (moving a line in).
    for name, event, transition in (("insert", "INSERT", "NEW"), ("delete", "DELETE", "OLD"),
                                    ("update_old", "UPDATE", "OLD"), ("update_new", "UPDATE", "NEW")):
        op.execute(f"CREATE TRIGGER invoice_lines_final_{name} AFTER {event} ON invoice_lines "
                   f"REFERENCING {transition} TABLE AS touched FOR EACH STATEMENT "
                   f"EXECUTE FUNCTION invoice_lines_are_final()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS invoice_runs_final ON invoice_runs")
        for name in ("insert", "delete", "update_old", "update_new"):
            op.execute(f"DROP TRIGGER IF EXISTS invoice_lines_final_{name} ON invoice_lines")
        op.execute("DROP FUNCTION IF EXISTS invoice_lines_are_final()")
        op.execute("DROP FUNCTION IF EXISTS invoice_run_is_final()")
    op.drop_index(op.f('ix_invoice_lines_run_id'), table_name='invoice_lines')
    op.drop_table('invoice_lines')
    op.drop_index('ix_invoice_runs_period', table_name='invoice_runs')
    op.drop_table('invoice_runs')
    op.drop_table('deflators')
    op.drop_table('budgets')
    op.drop_index(op.f('ix_price_models_agreement_id'), table_name='price_models')
    op.drop_table('price_models')
    op.drop_index('ix_service_periods_recipient', table_name='service_periods')
    op.drop_table('service_periods')
