"""The journal writer: group commit, per-unit failure isolation, and no ACK without a commit."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, insert, select, text

from respons.store.journal import Journal, JournalUnavailable, Lane, announce
from respons.store.tables import centres
from tests.factories import T0


def add_centre(name: str):
    def work(conn):
        return conn.execute(insert(centres).values(name=name, created_at=T0)).inserted_primary_key[0]

    return work


def count_centres(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(centres)).scalar_one()


def test_concurrent_units_share_commits_and_all_land(engine):
    journal = Journal(engine, window_ms=20).start()
    try:
        futures = []
        barrier = threading.Barrier(40)

        def sender(i: int):
            barrier.wait()
            futures.append(journal.submit(add_centre(f"c{i}")))

        threads = [threading.Thread(target=sender, args=(i,)) for i in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ids = [f.result(timeout=10) for f in futures]
    finally:
        journal.close()
    assert len(set(ids)) == 40
    assert count_centres(engine) == 40
    assert journal.stats.units == 40
    assert journal.stats.batches < 40, "40 simultaneous units should have shared commits"


def test_a_failing_unit_is_rolled_back_alone(engine):
    journal = Journal(engine, window_ms=50).start()

    def broken(conn):
        conn.execute(insert(centres).values(name="half-written", created_at=T0))
        raise ValueError("domain refused")

    try:
        good_before = journal.submit(add_centre("before"))
        bad = journal.submit(broken)
        good_after = journal.submit(add_centre("after"))
        assert good_before.result(10) and good_after.result(10)
        with pytest.raises(ValueError, match="domain refused"):
            bad.result(10)
    finally:
        journal.close()
    with engine.connect() as conn:
        names = set(conn.execute(select(centres.c.name)).scalars())
    assert names == {"before", "after"}


def commit_breaker(engine):
    """A unit of work that runs fine but makes the COMMIT of its batch fail."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TABLE IF NOT EXISTS commit_breaker (centre_id integer REFERENCES centres(id) "
                    "DEFERRABLE INITIALLY DEFERRED)"
                )
            )

        def breaks_at_commit(conn):
            conn.execute(text("INSERT INTO commit_breaker VALUES (987654)"))
    else:

        def breaks_at_commit(conn):
            # Deferred foreign keys are only checked at COMMIT.
            conn.execute(text("PRAGMA defer_foreign_keys = ON"))
            conn.execute(text("INSERT INTO zones (municipality_id, code, name) VALUES (987654, 'X', 'dangling')"))

    return breaks_at_commit


def test_a_failed_commit_acknowledges_nobody(engine):
    """If COMMIT itself fails, every sender in the batch gets JournalUnavailable and nothing is stored."""
    breaks_at_commit = commit_breaker(engine)

    journal = Journal(engine, window_ms=100).start()
    try:
        innocent = journal.submit(add_centre("innocent"))
        breaker = journal.submit(breaks_at_commit)
        for future in (innocent, breaker):
            with pytest.raises(JournalUnavailable, match="did not commit"):
                future.result(10)
        # The journal keeps working after a failed batch.
        assert journal.run_sync(add_centre("later"))
    finally:
        journal.close()
    with engine.connect() as conn:
        assert set(conn.execute(select(centres.c.name)).scalars()) == {"later"}


def test_close_writes_what_was_queued(engine):
    journal = Journal(engine, window_ms=1).start()
    futures = [journal.submit(add_centre(f"q{i}")) for i in range(25)]
    journal.close()
    assert all(f.result(1) for f in futures)
    assert count_centres(engine) == 25


def test_only_committed_units_are_published_and_only_after_commit(engine):
    from respons.store.journal import announce

    published: list[tuple[list, int]] = []

    def on_commit(changes):
        # Called after COMMIT: the rows are already visible to a new connection.
        published.append(([c["name"] for c in changes], count_centres(engine)))

    def announced_centre(name: str, fail: bool = False):
        def work(conn):
            conn.execute(insert(centres).values(name=name, created_at=T0))
            announce(conn, {"name": name})
            if fail:
                raise ValueError("refused")

        return work

    journal = Journal(engine, window_ms=100, on_commit=on_commit).start()
    try:
        ok = journal.submit(announced_centre("a"))
        bad = journal.submit(announced_centre("b", fail=True))
        ok2 = journal.submit(announced_centre("c"))
        ok.result(10), ok2.result(10)
        with pytest.raises(ValueError):
            bad.result(10)
    finally:
        journal.close()
    assert published == [(["a", "c"], 2)]


def test_a_failed_commit_publishes_nothing(engine):
    from respons.store.journal import announce

    published = []
    breaker = commit_breaker(engine)

    def announced_then_broken(conn):
        announce(conn, {"name": "ghost"})
        breaker(conn)

    journal = Journal(engine, window_ms=1, on_commit=published.append).start()
    try:
        with pytest.raises(JournalUnavailable):
            journal.submit(announced_then_broken).result(10)
    finally:
        journal.close()
    assert published == []


def test_life_safety_units_overtake_queued_technical_traffic(engine):
    """A fall queued behind a storm of "mains lost" frames is committed in the next batch."""
    journal = Journal(engine, window_ms=0, max_batch=3).start()
    release, started, ran = threading.Event(), threading.Event(), []

    def blocker(conn):
        started.set()
        release.wait(10)

    def unit(name):
        def work(conn):
            ran.append(name)
        return work

    try:
        first = journal.submit(blocker)
        started.wait(10)  # the writer is busy: everything below waits in the queue
        technical = [journal.submit(unit(f"power_lost {i}"), lane=Lane.TECHNICAL) for i in range(6)]
        operator = journal.submit(unit("operator note"))
        fall = journal.submit(unit("fall"), lane=Lane.LIFE)
        release.set()
        for future in [first, *technical, operator, fall]:
            future.result(timeout=10)
    finally:
        journal.close()
    assert ran[:2] == ["fall", "operator note"]
    assert ran[2:] == [f"power_lost {i}" for i in range(6)], "first come, first served within a lane"


def test_close_commits_every_lane_queued_before_it(engine):
    journal = Journal(engine, window_ms=0).start()
    futures = [journal.submit(add_centre(f"c{lane.name}"), lane=lane) for lane in Lane]
    journal.close()
    assert all(f.done() and not f.exception() for f in futures)
    assert count_centres(engine) == len(Lane)


def test_a_batch_is_written_without_savepoints_and_again_isolated_when_a_unit_fails(engine):
    journal = Journal(engine, window_ms=0).start()
    release, started = threading.Event(), threading.Event()

    def blocker(conn):
        started.set()
        release.wait(10)

    def broken(conn):
        conn.execute(insert(centres).values(name="half-written", created_at=T0))
        raise ValueError("domain refused")

    try:
        journal.submit(blocker)
        started.wait(10)
        good = [journal.submit(add_centre(f"good {i}")) for i in range(3)]
        bad = journal.submit(broken)
        release.set()
        assert all(f.result(10) for f in good)
        with pytest.raises(ValueError, match="domain refused"):
            bad.result(10)
        assert journal.stats.rewritten_batches == 1, "the batch of four was written again, each unit isolated"
        lone = journal.submit(broken)
        with pytest.raises(ValueError):
            lone.result(10)
        assert journal.stats.rewritten_batches == 1, "a lone unit is its own transaction: nothing to write again"
    finally:
        journal.close()
    with engine.connect() as conn:
        names = set(conn.execute(select(centres.c.name)).scalars())
    assert names == {"good 0", "good 1", "good 2"}


def test_technical_traffic_is_committed_in_short_batches(engine):
    """A storm's frames go in batches of at most max_technical units, so an alarm arriving
    during a storm waits for one short batch, not for five hundred AC-loss frames."""
    journal = Journal(engine, window_ms=0, max_batch=50, max_technical=4).start()
    release, started, sizes = threading.Event(), threading.Event(), []

    def blocker(conn):
        started.set()
        release.wait(10)

    def technical(conn):
        sizes.append(journal.stats.batches)

    try:
        journal.submit(blocker)
        started.wait(10)
        futures = [journal.submit(technical, lane=Lane.TECHNICAL) for _ in range(10)]
        release.set()
        for f in futures:
            f.result(10)
    finally:
        journal.close()
    per_batch = [sizes.count(b) for b in sorted(set(sizes))]
    assert per_batch == [4, 4, 2]


# --- reactions: follow-on work in the unit of the change it follows --------------------------


def announcing(name: str):
    def work(conn):
        add_centre(name)(conn)
        announce(conn, {"event": "centre_added", "name": name})
        return name

    return work


def test_a_reaction_commits_with_the_change_it_reacts_to_and_sees_its_own_announcements(engine):
    seen: list[str] = []

    def react(conn, change):
        seen.append(change["event"])
        if change["event"] == "centre_added":
            add_centre(change["name"] + " (follow-up)")(conn)
            announce(conn, {"event": "follow_up_added"})

    published: list[dict] = []
    journal = Journal(engine, window_ms=0, reactions=(react,), on_commit=published.extend).start()
    try:
        assert journal.run_sync(announcing("Agder")) == "Agder"
    finally:
        journal.close()
    assert seen == ["centre_added", "follow_up_added"], "a reaction's own change is offered too"
    assert count_centres(engine) == 2
    assert [c["event"] for c in published] == ["centre_added", "follow_up_added"]


def test_a_failing_reaction_fails_its_unit_alone_and_nothing_of_it_commits(engine):
    def react(conn, change):
        if change.get("name") == "poisoned":
            add_centre("written by the reaction before it failed")(conn)
            raise RuntimeError("reaction failed")

    published: list[dict] = []
    journal = Journal(engine, window_ms=50, reactions=(react,), on_commit=published.extend).start()
    try:
        futures = [journal.submit(announcing(name)) for name in ("first", "poisoned", "last")]
        outcomes = []
        for future in futures:
            try:
                outcomes.append(future.result(timeout=30))
            except RuntimeError as exc:
                outcomes.append(str(exc))
    finally:
        journal.close()
    assert outcomes == ["first", "reaction failed", "last"]
    with engine.connect() as conn:
        names = sorted(conn.execute(select(centres.c.name)).scalars())
    assert names == ["first", "last"], "the failing unit's write and its reaction's write are both rolled back"
    assert sorted(c["name"] for c in published) == ["first", "last"]


def test_outside_the_journal_an_announcement_is_not_kept(engine):
    # Seeding and tools write without the journal: no screen waits for that commit, and a list
    # kept on the connection would outlive its checkout in the pool.
    with engine.begin() as conn:
        announcing("seeded")(conn)
        kept = [v for v in conn.info.values() if isinstance(v, list) and any(
            isinstance(c, dict) and c.get("name") == "seeded" for c in v)]
    assert count_centres(engine) == 1
    assert kept == []
