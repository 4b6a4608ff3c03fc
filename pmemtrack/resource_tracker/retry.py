"""Retry a claim in a fresh transaction when it lost a race.

A retry must never reuse the failed transaction: on MariaDB at REPEATABLE READ
it would re-read the same stale snapshot and could commit against capacity that
is gone. Backoff is exponential with full jitter, so
racing claimers spread out instead of colliding again in lock step.
"""

import random
import time

from oslo_db import exception as db_exc
from oslo_log import log as logging

from pmemtrack import exception
from pmemtrack.db import api as db_api

LOG = logging.getLogger(__name__)

# oslo.db turns MySQL's deadlock and lock wait timeout (1213, 1205, Galera's
# certification failures among them), MariaDB's "record has changed since
# last read" (1020, with innodb_snapshot_isolation: its DBConsistencyError is
# a DBDeadlock) and PostgreSQL's deadlock into DBDeadlock. It maps neither
# PostgreSQL's serialization failure (40001: a lost race at REPEATABLE READ or
# above) nor SQLite's busy database, so only those are matched here.
_PG_SERIALIZATION_FAILURE = "40001"


def is_retryable(err):
    if isinstance(err, (exception.ClaimConflict, db_exc.DBDeadlock)):
        return True
    inner = getattr(err, "inner_exception", None)
    orig = getattr(inner, "orig", inner)
    if getattr(orig, "pgcode", None) == _PG_SERIALIZATION_FAILURE:
        return True
    return "database is locked" in str(orig or err)


class RetryStats:
    """The attempts one claim or release took, for benchmarks and logs."""

    def __init__(self):
        self.attempts = 0

    @property
    def retries(self):
        return max(0, self.attempts - 1)


def backoff(attempt, base, cap):
    """Full-jitter exponential backoff for retry number ``attempt`` (from 1)."""
    return random.uniform(0, min(cap, base * (2 ** (attempt - 1))))


def in_fresh_transactions(context, work, conf, describe, stats=None, before=None):
    """Run ``work(context)`` in a new writer transaction until it commits.

    ``before(context)``, if given, runs ahead of every attempt, outside the
    transaction; a race it loses (on Galera, two nodes creating the same
    row end in a deadlock error at COMMIT) is retried like the attempt's own.
    ``describe`` is a dict with ``instance_uuid`` and ``node`` for the error
    raised when the bound is reached.
    """
    stats = stats or RetryStats()
    opts = conf.resource_tracker
    last = None
    for attempt in range(1, opts.claim_max_retries + 2):
        stats.attempts = attempt
        try:
            if before is not None:
                before(context)
            with db_api.context_manager.writer.independent.using(context):
                return work(context)
        except Exception as err:
            if not is_retryable(err):
                raise
            last = err
        delay = backoff(
            attempt, opts.claim_retry_interval, opts.claim_retry_max_interval
        )
        LOG.debug(
            "Claim attempt %d lost a race (%s); retrying in %.3fs", attempt, last, delay
        )
        time.sleep(delay)
    raise exception.ClaimRetriesExhausted(
        attempts=stats.attempts, last=type(last).__name__, **describe
    )
