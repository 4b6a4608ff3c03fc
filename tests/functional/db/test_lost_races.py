"""A lost race as each real database reports it is one the claim retries:
oslo.db turns MySQL's and PostgreSQL's deadlocks into DBDeadlock, and
pmemtrack's retry adds only what oslo.db leaves alone (PostgreSQL's
serialization failure, SQLite's busy database)."""

import threading

import pytest
import sqlalchemy as sa

from pmemtrack.db import models
from pmemtrack.resource_tracker import retry

ANCHORS = models.ProjectQuotaAnchor.__table__


def _touch(conn, project_id):
    conn.execute(
        sa.update(ANCHORS)
        .where(ANCHORS.c.project_id == project_id)
        .values(generation=ANCHORS.c.generation + 1)
    )


@pytest.mark.parametrize("backend", ["mysql", "postgresql"])
def test_a_deadlock_is_a_lost_race_that_is_retried(db_engine):
    with db_engine.begin() as conn:
        for project_id in ("p1", "p2"):
            conn.execute(sa.insert(ANCHORS).values(project_id=project_id,
                                                   generation=0))  # fmt: skip
    first, second = db_engine.connect(), db_engine.connect()
    first.begin()
    second.begin()
    _touch(first, "p1")
    _touch(second, "p2")
    errors = []

    def cross(conn, project_id):
        try:
            _touch(conn, project_id)
        except Exception as err:  # the deadlock victim's error, checked below
            errors.append(err)
            conn.rollback()

    # Each now waits for the row the other holds: the server picks a victim.
    waiter = threading.Thread(target=cross, args=(first, "p2"))
    waiter.start()
    cross(second, "p1")
    waiter.join(60)
    for conn in (first, second):
        conn.rollback()
        conn.close()

    assert len(errors) == 1, errors
    assert type(errors[0]).__name__ == "DBDeadlock"
    assert retry.is_retryable(errors[0])


@pytest.mark.parametrize("backend", ["mysql"])
def test_a_row_changed_since_the_snapshot_is_a_lost_race_that_is_retried(db_engine):
    """MariaDB with innodb_snapshot_isolation (the default from 11.8) refuses
    to write a row another transaction changed since this one's snapshot:
    error 1020, which oslo.db raises as DBConsistencyError."""
    with db_engine.begin() as conn:
        conn.execute(sa.insert(ANCHORS).values(project_id="p1", generation=0))
    stale, other = db_engine.connect(), db_engine.connect()
    try:
        stale.execute(sa.text("SET SESSION innodb_snapshot_isolation = ON"))
        stale.commit()
        stale.execute(sa.select(ANCHORS.c.generation)).all()  # the snapshot
        with other.begin():
            _touch(other, "p1")
        with pytest.raises(Exception) as lost:
            _touch(stale, "p1")
        stale.rollback()
    finally:
        stale.close()
        other.close()

    assert type(lost.value).__name__ == "DBConsistencyError"
    assert retry.is_retryable(lost.value)
