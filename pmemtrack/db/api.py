"""The one transaction facade every DB access in pmemtrack goes through.

Private DB functions are decorated with ``@context_manager.reader`` or
``@context_manager.writer``; calling one from inside another joins the outer
transaction, so public functions stay composable.
"""

from oslo_db.sqlalchemy import enginefacade
import sqlalchemy as sa

context_manager = enginefacade.transaction_context()
_configured = False

# SQLite: how long a writer waits for another process's write lock (ms).
SQLITE_BUSY_TIMEOUT_MS = 30000


def setup_engine(engine):
    """Make SQLite safe for several processes claiming at once.

    oslo.db already has SQLAlchemy, not pysqlite, emit BEGIN; but a plain BEGIN
    lets two processes both read and then both try to write, and one fails with
    'database is locked' on a stale snapshot. BEGIN IMMEDIATE takes the write lock
    up front so writers queue instead; WAL lets readers go on meanwhile. Other
    backends are left as oslo.db made them.
    """
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return

    def on_connect(dbapi_connection, connection_record):
        cursor = dbapi_connection.cursor()
        for pragma in (
            f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}",
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = NORMAL",
        ):
            # Fetch the answer: a PRAGMA left unread may not have taken effect.
            cursor.execute(pragma).fetchall()
        cursor.close()

    def on_begin(connection):
        # oslo.db's listener, replaced below, does the same with a plain BEGIN;
        # its commit/rollback listeners clear the same flag.
        if "in_transaction" not in connection.info:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            connection.info["in_transaction"] = True

    for listener in list(engine.dispatch.begin):
        if listener.__name__ == "_sqlite_emit_begin":
            sa.event.remove(engine, "begin", listener)
    sa.event.listen(engine, "connect", on_connect)
    sa.event.listen(engine, "begin", on_begin)
    # oslo.db opened a connection to test the engine before these listeners
    # existed; drop it so every pooled connection is set up as above.
    engine.dispose()
    # oslo.db gives file databases a NullPool, so every transaction opens and
    # closes a connection; closing the last one checkpoints the WAL and syncs
    # (about 1 ms each time). One idle connection kept open for the engine's
    # life makes every other close cheap. It holds no lock while idle.
    keeper = engine.raw_connection()
    # A read attaches it to the WAL index, which is what makes it count as open.
    keeper.cursor().execute("SELECT count(*) FROM sqlite_master").fetchall()
    engine.info_keepalive = keeper


def configure(conf):
    """Point the facade at [database]/connection, once per process."""
    db = conf.database
    configure_url(
        db.connection,
        max_pool_size=db.max_pool_size,
        max_overflow=db.max_overflow,
        pool_timeout=db.pool_timeout,
        connection_recycle_time=db.connection_recycle_time,
        max_retries=db.max_retries,
        retry_interval=db.retry_interval,
    )


def configure_url(url, **engine_options):
    """Point the facade at ``url``, once per process (workers, benchmarks)."""
    global _configured
    if _configured:
        return
    context_manager.configure(connection=url, sqlite_fk=True, **engine_options)
    context_manager.append_on_engine_create(setup_engine)
    _configured = True


def get_engine():
    return context_manager.writer.get_engine()
