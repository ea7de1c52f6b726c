"""The hash-chained audit log on both databases: appending, tamper detection, search, CLI."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from respons.auth import audit
from respons.auth.audit import GENESIS_HASH, append, canonical, record_hash, search, verify, verify_engine
from respons.settings import get_settings
from respons.store.db import WRITE, make_engine
from respons.store.journal import Journal
from respons.store.tables import audit_head, audit_log
from tests.factories import T0

CONTENT_COLUMNS = [c for c in audit_log.c if c.name != "seq"]


def append_records(engine, n: int, *, start_at: datetime = T0) -> None:
    with engine.begin() as conn:
        for i in range(n):
            append(
                conn,
                now=start_at + timedelta(minutes=i, microseconds=i * 7),
                actor=f"user:{1 + i % 3}",
                action=audit.READ_RECIPIENT if i % 2 else audit.LOGIN,
                municipality_id=1 + i % 2,
                recipient_id=100 + i % 4,
                purpose="oppfølging av alarm på Ærøy",
                details={"i": i, "merknad": "Åse, Øystein og Ærlend"},
            )


def head(engine) -> tuple[int, str]:
    with engine.connect() as conn:
        return tuple(conn.execute(select(audit_head.c.seq, audit_head.c.hash)).one())


def row(engine, seq: int) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(select(audit_log).where(audit_log.c.seq == seq)).one()._mapping)


def change(engine, seq: int, **values) -> None:
    with engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == seq).values(**values))


def check(engine, **kwargs):
    with engine.connect() as conn:
        return verify(conn, **kwargs)


# --- appending ---------------------------------------------------------------------------------


def test_an_empty_log_is_intact(engine):
    result = verify_engine(engine)
    assert (result.ok, result.checked, result.head_hash) == (True, 0, GENESIS_HASH)


def test_appended_records_form_a_chain_that_verifies(engine):
    append_records(engine, 12)
    first, last = row(engine, 1), row(engine, 12)
    assert first["prev_hash"] == GENESIS_HASH
    assert row(engine, 2)["prev_hash"] == first["hash"]
    assert head(engine) == (12, last["hash"])
    result = verify_engine(engine)
    assert result.ok, result.problem
    assert (result.checked, result.first_broken_seq, result.head_hash) == (12, None, last["hash"])


def test_verify_streams_in_chunks_smaller_than_the_log(engine):
    append_records(engine, 50)
    result = check(engine, chunk_size=7)
    assert result.ok and result.checked == 50


def test_the_time_reads_back_exactly_as_hashed(engine):
    # 03:04:05.123456 in Oslo (+01:00) is stored as UTC and must format identically.
    at = datetime(2026, 11, 23, 3, 4, 5, 123456, tzinfo=ZoneInfo("Europe/Oslo"))
    written = {
        "seq": 1, "at": at, "actor": "user:1", "action": audit.EXPORT, "municipality_id": None,
        "recipient_id": None, "alarm_id": None, "purpose": None, "details": {"t": (1, 2)}, "prev_hash": GENESIS_HASH,
    }
    with engine.begin() as conn:
        append(conn, now=at, actor="user:1", action=audit.EXPORT, details={"t": (1, 2)})
    stored = row(engine, 1)
    assert stored["at"] == at and stored["at"].tzinfo is not None and stored["at"].microsecond == 123456
    # The tuple is hashed as the list the database gives back.
    assert canonical(stored) == canonical({**written, "details": {"t": [1, 2]}})
    assert stored["hash"] == record_hash(stored)


def test_a_unit_that_fails_takes_its_audit_record_with_it(engine):
    journal = Journal(engine).start()

    def grant_then_fail(conn):
        append(conn, now=T0, actor="user:1", action=audit.ROLE_GRANT, details={"user_id": 2})
        raise ValueError("refused after the audit record was written")

    try:
        journal.run_sync(lambda conn: append(conn, now=T0, actor="user:1", action=audit.LOGIN))
        with pytest.raises(ValueError, match="refused"):
            journal.run_sync(grant_then_fail)
        journal.run_sync(lambda conn: append(conn, now=T0, actor="user:1", action=audit.LOGOUT))
    finally:
        journal.close()
    with engine.connect() as conn:
        actions = list(conn.execute(select(audit_log.c.action).order_by(audit_log.c.seq)).scalars())
    assert actions == [audit.LOGIN, audit.LOGOUT]
    assert verify_engine(engine).ok


def test_concurrent_appends_through_one_journal_are_gapless(engine):
    journal = Journal(engine, window_ms=5).start()
    seqs: list[int] = []
    barrier = threading.Barrier(8)

    def sender(t: int):
        barrier.wait()
        for i in range(25):
            work = lambda conn, i=i: append(conn, now=T0, actor=f"user:{t}", action=audit.READ_RECIPIENT, details={"i": i})  # noqa: E731
            seqs.append(journal.run_sync(work))

    threads = [threading.Thread(target=sender, args=(t,)) for t in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        journal.close()
    assert sorted(seqs) == list(range(1, 201))
    result = verify_engine(engine)
    assert result.ok and result.checked == 200, result.problem


def test_two_nodes_appending_at_once_serialise_on_the_head(migrated_url):
    """Separate engines stand in for two servers; each appends in its own transactions."""
    engines = [make_engine(migrated_url), make_engine(migrated_url)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def node(engine, t: int):
        barrier.wait()
        try:
            for i in range(15):
                with engine.connect().execution_options(**WRITE) as conn, conn.begin():
                    append(conn, now=T0, actor=f"node:{t}", action=audit.UPDATE, details={"i": i})
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=node, args=(engines[t % 2], t)) for t in range(6)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        result = verify_engine(engines[0])
        assert result.ok and result.checked == 90, result.problem
    finally:
        for e in engines:
            e.dispose()


# --- tampering ---------------------------------------------------------------------------------


@pytest.mark.parametrize("values", [{"details": {"i": 4, "merknad": "ingenting"}}, {"actor": "user:99"}])
def test_a_changed_record_is_named(engine, values):
    append_records(engine, 10)
    change(engine, 5, **values)
    result = verify_engine(engine)
    assert not result.ok
    assert result.first_broken_seq == 5
    assert result.checked == 4
    assert result.problem == "record 5: content does not match its hash (changed after it was written)"


def test_a_changed_time_is_named(engine):
    append_records(engine, 5)
    change(engine, 3, at=row(engine, 3)["at"] + timedelta(microseconds=1))
    result = verify_engine(engine)
    assert (result.ok, result.first_broken_seq) == (False, 3)


def test_a_deleted_middle_record_is_named(engine):
    append_records(engine, 10)
    with engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 6))
    result = verify_engine(engine)
    assert (result.ok, result.first_broken_seq) == (False, 6)
    assert result.problem == "record 6 missing: sequence jumps from 5 to 7 (deleted)"


def test_a_deleted_first_record_is_named(engine):
    append_records(engine, 3)
    with engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 1))
    result = verify_engine(engine)
    assert (result.ok, result.first_broken_seq) == (False, 1)
    assert "record 1 missing" in result.problem


def test_deleting_the_newest_records_is_detected_by_the_head(engine):
    append_records(engine, 25)
    with engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq > 23))
    result = verify_engine(engine)
    assert (result.ok, result.first_broken_seq, result.checked) == (False, 24, 23)
    assert result.problem == "head says 25 records but the log ends at 23 (newest records deleted)"


def test_deleting_every_record_is_detected_by_the_head(engine):
    append_records(engine, 3)
    with engine.begin() as conn:
        conn.execute(delete(audit_log))
    result = verify_engine(engine)
    assert (result.ok, result.first_broken_seq) == (False, 1)
    assert "head says 3 records but the log is empty" in result.problem


def test_swapping_two_records_is_detected_at_the_first_of_them(engine):
    append_records(engine, 10)
    r4, r8 = row(engine, 4), row(engine, 8)
    change(engine, 4, **{c.name: r8[c.name] for c in CONTENT_COLUMNS})
    change(engine, 8, **{c.name: r4[c.name] for c in CONTENT_COLUMNS})
    result = verify_engine(engine)
    assert (result.ok, result.first_broken_seq) == (False, 4)
    assert result.problem == "record 4: prev_hash does not match record 3 (reordered or replaced)"


def test_a_record_rewritten_with_a_recomputed_hash_breaks_the_next_link(engine):
    append_records(engine, 10)
    forged = {**row(engine, 5), "actor": "user:99"}
    change(engine, 5, actor="user:99", hash=record_hash(forged))
    result = verify_engine(engine)
    assert (result.ok, result.first_broken_seq) == (False, 6)
    assert result.problem == "record 6: prev_hash does not match record 5 (reordered or replaced)"


def test_the_newest_record_rewritten_with_a_recomputed_hash_no_longer_matches_the_head(engine):
    append_records(engine, 4)
    forged = {**row(engine, 4), "purpose": "ingen"}
    change(engine, 4, purpose="ingen", hash=record_hash(forged))
    result = verify_engine(engine)
    assert (result.ok, result.first_broken_seq) == (False, 4)
    assert "head hash does not match record 4" in result.problem


def test_a_rolled_back_head_is_detected(engine):
    append_records(engine, 5)
    r3 = row(engine, 3)
    with engine.begin() as conn:
        conn.execute(update(audit_head).values(seq=3, hash=r3["hash"]))
    result = verify_engine(engine)
    assert (result.ok, result.first_broken_seq) == (False, 4)
    assert "head says 3 records but the log continues to 5" in result.problem


# --- search ------------------------------------------------------------------------------------


def test_search_filters_and_returns_newest_first(engine):
    append_records(engine, 12)  # minute i: actor user:1+i%3, recipient 100+i%4
    with engine.connect() as conn:
        by_recipient = search(conn, recipient_id=101)
        by_actor = search(conn, actor="user:2")
        in_period = search(conn, start=T0 + timedelta(minutes=3), end=T0 + timedelta(minutes=6))
        combined = search(conn, recipient_id=101, actor="user:2")
        by_action = search(conn, action=audit.LOGIN, limit=2)
        scoped = search(conn, municipality_ids={2})
    assert [r["seq"] for r in by_recipient] == [10, 6, 2]
    assert [r["seq"] for r in by_actor] == [11, 8, 5, 2]
    assert [r["seq"] for r in in_period] == [6, 5, 4]  # start included, end excluded
    assert [r["seq"] for r in combined] == [2]
    assert [r["seq"] for r in by_action] == [11, 9]
    assert {r["municipality_id"] for r in scoped} == {2} and len(scoped) == 6
    assert by_recipient[0]["details"] == {"i": 9, "merknad": "Åse, Øystein og Ærlend"}


# --- the command -------------------------------------------------------------------------------


@pytest.fixture
def cli(migrated_url, monkeypatch):
    from respons.cli import app

    monkeypatch.setenv("RESPONS_DATABASE_URL", migrated_url)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    get_settings.cache_clear()


def flat(output: str) -> str:
    # Rich wraps long lines at the terminal width; compare with whitespace collapsed.
    return " ".join(output.split())


def test_cli_verify_exits_0_on_an_intact_log_and_1_naming_the_broken_record(engine, cli):
    append_records(engine, 5)
    intact = cli("audit", "verify")
    assert intact.exit_code == 0, intact.output
    assert f"Audit log intact: 5 records, head {head(engine)[1][:16]}…" in flat(intact.output)

    change(engine, 3, details={"i": 2, "merknad": "endret"})
    broken = cli("audit", "verify")
    assert broken.exit_code == 1, broken.output
    assert "record 3: content does not match its hash" in flat(broken.output)


def test_cli_search_applies_the_filters(engine, cli):
    append_records(engine, 12)
    everything = cli("audit", "search")
    assert everything.exit_code == 0, everything.output
    assert "12 audit records" in flat(everything.output)
    # The last record (minute 11) is 02:11 UTC = 03:11 in Oslo on T0's day.
    filtered = cli("audit", "search", "--recipient", "101", "--actor", "user:2", "--since", "2026-11-23", "--until", "2026-11-23")
    assert filtered.exit_code == 0, filtered.output
    assert "1 audit records" in flat(filtered.output)
    next_day = cli("audit", "search", "--since", "2026-11-24")
    assert "0 audit records" in flat(next_day.output)
