"""The one transaction facade every DB access in pmemtrack goes through.

Private DB functions are decorated with ``@context_manager.reader`` or
``@context_manager.writer``; calling one from inside another joins the outer
transaction, so public functions stay composable.
"""

import os
import stat

from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import enginefacade
from oslo_db.sqlalchemy import exc_filters
from oslo_log import log as logging
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import url as sa_url

LOG = logging.getLogger(__name__)
context_manager = enginefacade.transaction_context()
_configured = False

# A SQLite file holds every instance and project: its owner's alone, whatever
# the umask. SQLite gives its -wal, -shm and -journal files the mode of the
# database file, so creating that one right covers them.
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")

# SQLite: how long a writer waits for another process's write lock (ms).
SQLITE_BUSY_TIMEOUT_MS = 30000
# Marks a connection whose transaction has emitted its BEGIN IMMEDIATE; the
# commit and rollback listeners clear it (a name of our own, not oslo.db's).
_BEGUN = "pmemtrack_begun"


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
        if _BEGUN not in connection.info:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            connection.info[_BEGUN] = True

    def on_end(connection):
        connection.info.pop(_BEGUN, None)

    # The begin listeners oslo.db put on a SQLite engine (a plain BEGIN) give
    # way to this one: SQLAlchemy ignores insert=True for connection events,
    # so it could not run first. test_sqlite_writers.py fails if a plain
    # BEGIN comes back.
    for listener in list(engine.dispatch.begin):
        sa.event.remove(engine, "begin", listener)
    sa.event.listen(engine, "connect", on_connect)
    sa.event.listen(engine, "begin", on_begin)
    sa.event.listen(engine, "commit", on_end)
    sa.event.listen(engine, "rollback", on_end)
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


def sqlite_path(url):
    """The file a SQLite URL names, or None: another backend, a database in
    memory, or a "file:" URI (?uri=true), which SQLite itself interprets."""
    url = sa_url.make_url(url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if url.query.get("uri"):
        return None
    return os.path.abspath(url.database)


def sqlite_url(path):
    """A SQLite URL for ``path``, whatever characters it holds: an
    f-string would turn '%20' into a space and cut the path at '?' or '#'."""
    url = sa_url.URL.create("sqlite", database=os.path.abspath(path))
    return url.render_as_string(hide_password=False)


def _makedirs_private(path):
    if os.path.isdir(path):
        return
    _makedirs_private(os.path.dirname(path))
    try:
        os.mkdir(path, PRIVATE_DIR)
    except FileExistsError:
        return
    # mkdir's mode went through the umask, which may have kept too little.
    os.chmod(path, PRIVATE_DIR)


def _tighten(path):
    """Make an existing file 0600 if others may read it: older releases left
    their database as the umask made it."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            os.chmod(path, PRIVATE_FILE)
            LOG.debug("%s was mode %04o: made 0600.", path, mode)
    except FileNotFoundError:
        pass
    except OSError as err:
        # Another user's file: its owner decides; the command may still work.
        LOG.warning("Cannot make %s private: %s", path, err)


def make_sqlite_private(url):
    """Before the first connection to ``url``: create a missing SQLite file
    (and its directory) private, and make an existing one and its side files
    private. SQLite would create it with whatever mode the umask leaves."""
    path = sqlite_path(url)
    if path is None:
        return
    _makedirs_private(os.path.dirname(path))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        for name in ("", *SQLITE_SIDE_FILES):
            _tighten(path + name)
        return
    try:
        # The mode went through the umask, which may have kept too little.
        # An empty file is an empty SQLite database.
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)


# libpq 12 and later say 'connection to server at "HOST", port N failed: ...'
# (or 'on socket ...') where older releases said 'could not connect to server',
# the only wording oslo.db 18 maps to DBConnectionError: without this filter an
# unreachable PostgreSQL fails at once instead of being retried
# [database] max_retries times, as MariaDB is.
@exc_filters.filters(
    "postgresql", sa_exc.OperationalError, r".*connection to server (?:at|on) .* failed"
)
def _postgresql_unreachable(operational_error, match, engine_name, is_disconnect):
    raise db_exc.DBConnectionError(operational_error)


def engine_options(conf):
    """Every [database] option as set in ``conf``, for the facade: oslo.db
    takes them all (and ignores, by name, those meant for its old DB API),
    so none an operator sets is silently dropped. Among them
    mysql_wsrep_sync_wait: with writers on every Galera node, 1 makes each
    read wait until its node applied the commits made through the others."""
    options = dict(conf.database.items())
    del options["connection"]
    return options


def configure(conf):
    """Point the facade at [database]/connection, once per process."""
    configure_url(conf.database.connection, **engine_options(conf))


def configure_url(url, **engine_options):
    """Point the facade at ``url``, once per process (workers, benchmarks)."""
    global _configured
    if _configured:
        return
    make_sqlite_private(url)
    context_manager.configure(connection=url, sqlite_fk=True, **engine_options)
    context_manager.append_on_engine_create(setup_engine)
    _configured = True


def get_engine():
    return context_manager.writer.get_engine()
