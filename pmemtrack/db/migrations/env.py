"""Alembic environment: runs migrations on the connection pmemtrack hands over."""

from alembic import context
import sqlalchemy as sa

from pmemtrack.db import models

config = context.config
target_metadata = models.BASE.metadata


def _run(connection):
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=connection.dialect.name != "mysql",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("pmemtrack migrations run online only: give a database URL.")
run_migrations_online()
