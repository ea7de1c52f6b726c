"""Fixtures shared by the whole suite.

Integration tests take ``database_url`` and run once on SQLite and once on PostgreSQL.
Each test gets a database of its own: a file under pytest's tmp_path, or a new PostgreSQL
database that is dropped afterwards. A test that asks for a migrated database (``migrated_url``,
``engine``) gets a copy of this process's migrated template (tests/databases.py), not a new
run of the migrations.

Markers follow the directories (``pytest_collection_modifyitems`` below), so ``-m browser``,
``-m slow`` and ``-m postgres`` select what they say; docs/testing.md has the whole story.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Re-exported for code that still imports them from here; new code imports tests.databases.
from tests.databases import POSTGRES_ADMIN_URL, REQUIRE_POSTGRES, Templates  # noqa: F401
from tests.databases import fresh_postgres_database as _fresh_postgres_database  # noqa: F401
from tests.passwords import use_cheap_hashing, use_production_hashing

TESTS = Path(__file__).parent
# Directory -> marker: what lives there is what the marker selects.
MARKERS_BY_DIRECTORY = {TESTS / "browser": "browser", TESTS / "chaos": "slow"}


def pytest_configure(config):
    use_cheap_hashing()  # tests/passwords.py: argon2 at its smallest cost in the test process


@pytest.fixture
def production_password_hashing():
    """RFC 9106's argon2 parameters, as Respons runs, for the duration of one test."""
    use_production_hashing()
    yield
    use_cheap_hashing()


@pytest.fixture(scope="session")
def _templates(tmp_path_factory):
    templates = Templates(tmp_path_factory.mktemp("templates"), os.environ.get("PYTEST_XDIST_WORKER", "main"))
    yield templates
    templates.close()


def _wants_template(request) -> bool:
    """A migrated database is asked for, and not by a test of the migrations themselves."""
    return "migrated_url" in request.fixturenames and request.node.get_closest_marker("migrations") is None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """The test's database, once per database kind. Empty (no schema) unless the test also
    uses ``migrated_url``: then it already holds the newest schema, copied from the template,
    and ``migrated_url`` is this same database."""
    template = request.getfixturevalue("_templates") if _wants_template(request) else None
    if request.param == "sqlite":
        path = tmp_path / "respons.db"
        yield template.sqlite_copy(path) if template else f"sqlite:///{path}"
    else:
        yield from _fresh_postgres_database(template.postgres_template() if template else None)


@pytest.fixture
def migrated_url(request, database_url):
    """The test's database at the newest schema. Tests marked ``migrations`` get it by running
    every migration on the empty database, as ``respons migrate`` does; the rest get it from
    the template copy ``database_url`` already made."""
    if not _wants_template(request):
        from respons.store.migrate import upgrade

        upgrade(database_url)
    return database_url


@pytest.fixture
def engine(migrated_url):
    from respons.store.db import make_engine

    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


def _under(path: Path, directory: Path) -> bool:
    return directory in path.parents


def pytest_collection_modifyitems(config, items):
    """Markers by directory, and an order that suits parallel workers.

    Markers: everything under tests/browser is ``browser``, under tests/chaos ``slow``, and a
    test on a PostgreSQL-only database (``postgres_url``, or ``database_url`` parametrized to
    "postgresql" only) is ``postgres`` like the PostgreSQL half of ``database_url``.

    Order: the browser tests first, then the chaos tests, then the rest: the longest pieces of
    work are handed out first, so that under pytest-xdist no worker is left with one long
    module while the others are idle. Each browser module is one xdist group (one worker, in
    order): its Chromium is shared by the module, and Playwright's sync API holds an asyncio
    loop in the worker's main thread while it is open (tests/browser/conftest.py). The module
    fixture closes that loop when the module ends, before the worker runs anything else.
    """
    for item in items:
        path = Path(str(item.fspath))
        for directory, marker in MARKERS_BY_DIRECTORY.items():
            if _under(path, directory) and item.get_closest_marker(marker) is None:
                item.add_marker(marker)
        on_postgres = "postgres_url" in getattr(item, "fixturenames", ()) or (
            # @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True) bypasses
            # the marked parameter of the fixture itself.
            getattr(getattr(item, "callspec", None), "params", {}).get("database_url") == "postgresql")
        if on_postgres and item.get_closest_marker("postgres") is None:
            item.add_marker("postgres")
        if _under(path, TESTS / "browser"):
            item.add_marker(pytest.mark.xdist_group(f"browser-{path.stem}"))

    def rank(item) -> int:
        path = Path(str(item.fspath))
        return 0 if _under(path, TESTS / "browser") else 1 if _under(path, TESTS / "chaos") else 2

    items.sort(key=rank)  # stable: within each rank the collection order stays


@pytest.fixture
def postgres_url(_templates):
    """A migrated PostgreSQL database only: for what only PostgreSQL does (several nodes)."""
    yield from _fresh_postgres_database(_templates.postgres_template())
