"""Several processes writing one SQLite file: each transaction takes the write
lock at BEGIN (BEGIN IMMEDIATE), so a second writer waits its turn instead of
reading a snapshot it can no longer write from. Checked from a second,
independent connection to the file."""

import sqlite3

from oslo_db.sqlalchemy import engines
import sqlalchemy as sa

from pmemtrack.db import api as db_api


def _another_writer_is_locked_out(path):
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as err:
        return "locked" in str(err)
    else:
        other.execute("ROLLBACK")
        return False
    finally:
        other.close()


def test_every_transaction_holds_the_write_lock_from_its_first_read(tmp_path):
    path = str(tmp_path / "writers.sqlite")
    engine = engines.create_engine(db_api.sqlite_url(path), max_retries=0)
    db_api.setup_engine(engine)
    try:
        for _ in range(2):  # on a new connection each time, as the pool does
            with engine.connect() as conn:
                for _ in range(2):  # a second transaction on one connection
                    with conn.begin():
                        conn.execute(sa.text("SELECT 1")).all()
                        assert _another_writer_is_locked_out(path)
                    assert not _another_writer_is_locked_out(path)
    finally:
        engine.dispose()
        engine.info_keepalive.close()


def test_a_plain_begin_would_not_hold_it(tmp_path):
    """The check above can fail: a deferred BEGIN and a read leave the file
    open to another writer."""
    path = str(tmp_path / "deferred.sqlite")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL").fetchall()
    conn.execute("BEGIN")
    conn.execute("SELECT 1").fetchall()
    try:
        assert not _another_writer_is_locked_out(path)
    finally:
        conn.execute("ROLLBACK")
        conn.close()
