"""Schema upgrades: alembic driven from code, on the configured database."""

import os

from alembic import command as alembic_command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from alembic import script as alembic_script

_HERE = os.path.dirname(os.path.abspath(__file__))


def _alembic_config(connection=None):
    config = alembic_config.Config(os.path.join(_HERE, "alembic.ini"))
    config.set_main_option("script_location", os.path.join(_HERE, "migrations"))
    config.attributes["connection"] = connection
    return config


def head_revision():
    script = alembic_script.ScriptDirectory.from_config(_alembic_config())
    return script.get_current_head()


def known_revisions():
    """Every revision this release has, oldest first."""
    script = alembic_script.ScriptDirectory.from_config(_alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def current_revision(engine):
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        return alembic_migration.MigrationContext.configure(conn).get_current_revision()


def upgrade(engine, revision="head"):
    """Bring the database at ``engine`` up to ``revision`` (default: head)."""
    with engine.begin() as conn:
        alembic_command.upgrade(_alembic_config(conn), revision)
