"""Schema migrations on every backend: empty to head, older to head, in sync."""

import unittest

from oslo_db.sqlalchemy import test_migrations
import pytest
import sqlalchemy as sa

from pmemtrack.db import migration
from pmemtrack.db import models
from tests import conftest


@pytest.fixture
def engine(empty_database):
    engine = conftest.make_engine(empty_database.url)
    yield engine
    engine.dispose()


def _tables(engine):
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_empty_database_to_head(engine):
    assert migration.current_revision(engine) is None
    migration.upgrade(engine)
    assert migration.current_revision(engine) == migration.head_revision()
    assert _tables(engine) == set(models.BASE.metadata.tables)


def test_upgrade_is_idempotent(engine):
    migration.upgrade(engine)
    migration.upgrade(engine)
    assert migration.current_revision(engine) == migration.head_revision()


def test_upgrade_older_database_keeps_its_rows(engine):
    migration.upgrade(engine, "0001")
    assert "resources" not in _tables(engine)
    blob = '{"nova_object.name": "ResourceList"}'
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO instances (uuid, project_id, user_id, host, node, deleted)"
                " VALUES ('8f3b6a2e-0000-4000-8000-000000000001', 'p1', 'u1',"
                " 'compute1', 'compute1', 0)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO instance_extra (instance_uuid, resources, deleted)"
                " VALUES ('8f3b6a2e-0000-4000-8000-000000000001', :blob, 0)"
            ),
            {"blob": blob},
        )
    migration.upgrade(engine)
    assert migration.current_revision(engine) == migration.head_revision()
    with engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT resources FROM instance_extra")).scalar()
    assert kept == blob


class _ModelsMigrationsSync(test_migrations.ModelsMigrationsSync, unittest.TestCase):
    """oslo.db's alembic comparison of the models with the migrated schema."""

    __test__ = False  # run per backend by the test below, not collected
    url = None

    def get_engine(self):
        return self._engine

    def get_metadata(self):
        return models.BASE.metadata

    def db_sync(self, engine):
        migration.upgrade(engine)

    def setUp(self):
        super().setUp()
        self._engine = conftest.make_engine(self.url)
        self.addCleanup(self._engine.dispose)


def test_models_and_migrations_are_in_sync(empty_database):
    case = type("ModelsSync", (_ModelsMigrationsSync,), {"url": empty_database.url})(
        "test_models_sync"
    )
    result = unittest.TestResult()
    case.run(result)
    problems = [text for _, text in result.failures + result.errors]
    assert result.testsRun == 1
    assert not problems, "\n".join(problems)
