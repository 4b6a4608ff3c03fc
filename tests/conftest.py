"""Shared fixtures: real databases on every backend, and request contexts."""

from oslo_db.sqlalchemy import engines
import pytest

from pmemtrack import context as pmt_context
from pmemtrack import objects
from pmemtrack.db import api as db_api
from pmemtrack.db import migration
from pmemtrack.db import models
from tests.fixtures import databases

# tests/nova runs in the Nova environment (tools/nova-tests, on Nova's own
# harness and runner); here test_nova_environment.py drives it.
collect_ignore = ["nova"]

objects.register_all()
# patch_engine() needs a started root factory; tests then swap in real engines.
db_api.context_manager.configure(connection="sqlite://")


def make_engine(url):
    """An engine set up as oslo.db sets up the service's (error translation,
    SQLite foreign keys, MySQL strict mode)."""
    engine = engines.create_engine(
        url, sqlite_fk=True, max_retries=0, mysql_sql_mode="TRADITIONAL"
    )
    db_api.setup_engine(engine)
    return engine


@pytest.fixture(params=databases.BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def empty_database(backend, tmp_path):
    """A new, empty database on ``backend``, dropped after the test."""
    database = databases.Database(backend, tmp_path)
    yield database
    database.drop()


class _MigratedDatabases:
    """One migrated database per backend for the whole session; tests empty it."""

    def __init__(self, tmp_dir):
        self._tmp_dir = tmp_dir
        self._ready = {}

    def engine_for(self, backend):
        if backend not in self._ready:
            database = databases.Database(backend, self._tmp_dir)
            engine = make_engine(database.url)
            migration.upgrade(engine)
            self._ready[backend] = (database, engine)
        return self._ready[backend][1]

    def close(self):
        for database, engine in self._ready.values():
            engine.dispose()
            database.drop()


@pytest.fixture(scope="session")
def migrated_databases(tmp_path_factory):
    dbs = _MigratedDatabases(tmp_path_factory.mktemp("db"))
    yield dbs
    dbs.close()


def _empty_all_tables(engine):
    with engine.begin() as conn:
        for table in reversed(models.BASE.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def db_engine(backend, migrated_databases):
    """The engine of a migrated, emptied database that the facade now uses."""
    engine = migrated_databases.engine_for(backend)
    _empty_all_tables(engine)
    reset = db_api.context_manager.patch_engine(engine)
    yield engine
    reset()


@pytest.fixture
def ctx(db_engine):
    return pmt_context.get_admin_context()
