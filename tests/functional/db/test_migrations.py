"""Schema migrations on every backend: empty to head, older to head, in sync."""

from alembic import autogenerate
from alembic import migration as alembic_migration
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
        marked = conn.execute(sa.text("SELECT holds_resources FROM instances")).scalar()
    assert kept == blob
    # 0004 marks the instances that hold something, so claims still see them.
    assert marked in (True, 1)


def test_models_and_migrations_are_in_sync(engine):
    """alembic's autogenerate comparison finds nothing between models and schema."""
    migration.upgrade(engine)
    with engine.connect() as conn:
        context = alembic_migration.MigrationContext.configure(
            conn, opts={"compare_type": True}
        )
        diff = autogenerate.compare_metadata(context, models.BASE.metadata)
    assert diff == []
