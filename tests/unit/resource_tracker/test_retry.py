"""Which failures are retried, and how the backoff grows."""

import types

from oslo_db import exception as db_exc
import pytest

from pmemtrack import exception
from pmemtrack.resource_tracker import retry


class _PgError(Exception):
    def __init__(self, pgcode):
        super().__init__(pgcode)
        self.pgcode = pgcode


def _wrapped(orig):
    return db_exc.DBError(types.SimpleNamespace(orig=orig))


@pytest.mark.parametrize(
    "err",
    [
        exception.ClaimConflict(what="compute node 1", expected=3),
        db_exc.DBDeadlock(),
        # What oslo.db does not map (deadlocks are: test_lost_races.py).
        _wrapped(_PgError("40001")),
        _wrapped(Exception("database is locked")),
    ],
)
def test_races_are_retried(err):
    assert retry.is_retryable(err)


@pytest.mark.parametrize(
    "err",
    [
        exception.ComputeResourcesUnavailable(
            host="h", node="n", label="m", resource_class="C", wanted=1, free=0
        ),
        db_exc.DBDuplicateEntry(),
        _wrapped(_PgError("23505")),
        ValueError("boom"),
    ],
)
def test_real_errors_are_not_retried(err):
    assert not retry.is_retryable(err)


def test_backoff_is_jittered_and_capped():
    delays = [retry.backoff(attempt, 0.01, 0.05) for attempt in range(1, 30)]
    assert all(0 <= d <= 0.05 for d in delays)
    assert max(retry.backoff(1, 0.01, 0.05) for _ in range(200)) <= 0.01
    assert len(set(delays)) > 20
