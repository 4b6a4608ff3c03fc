"""Generation compare-and-update: the race check of every claim.

A row's ``generation`` is read under a row lock and bumped with a conditional
UPDATE in the same transaction; a bump that matches no row means another
writer got there first, and the claim is retried in a fresh transaction.
"""

import functools
import typing

from oslo_utils import timeutils
import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack.db import models

_COMPUTE_NODES = models.ComputeNode.__table__
_QUOTA_ANCHORS = models.ProjectQuotaAnchor.__table__
_QUOTA_LIMITS = models.QuotaLimit.__table__


@functools.cache
def _statements(key_column):
    """(lock, bump) for the generation of ``key_column``'s table, built once:
    a claim runs them on every attempt."""
    # SELECT generation FROM <table> WHERE <key> = :key FOR UPDATE
    table = key_column.table
    key = sa.bindparam("key")
    lock = sa.select(table.c.generation).where(key_column == key).with_for_update()
    # UPDATE <table> SET generation = :seen + 1, updated_at = :now
    #  WHERE <key> = :key AND generation = :seen
    seen = sa.bindparam("seen")
    bump = (
        sa.update(table)
        .where(key_column == key, table.c.generation == seen)
        .values(generation=seen + 1, updated_at=sa.bindparam("now"))
    )
    return lock, bump


def lock(context, key_column, key):
    """The row's generation, read with the row locked; None when the row does
    not exist."""
    return context.session.execute(_statements(key_column)[0], {"key": key}).scalar()


def bump(context, key_column, key, generation, what):
    result = context.session.execute(
        _statements(key_column)[1],
        {"key": key, "seen": generation, "now": timeutils.utcnow()},
    )
    if result.rowcount != 1:
        raise exception.ClaimConflict(what=what, expected=generation)


def lock_node(context, node_id):
    """The compute node's generation, its row locked; ComputeNodeNotFound if
    the node is gone."""
    node_generation = lock(context, _COMPUTE_NODES.c.id, node_id)
    if node_generation is None:
        raise exception.ComputeNodeNotFound(node=node_id)
    return node_generation


def bump_node(context, node_id, node_generation):
    bump(context, _COMPUTE_NODES.c.id, node_id, node_generation,
         f"compute node {node_id}")  # fmt: skip


class ClaimLocks(typing.NamedTuple):
    """What a claim's first statement locks and reads."""

    node_generation: int
    anchor_generation: int
    overrides: dict  # the project's quota limit overrides, resource class -> limit


def _claim_locks_select():
    # SELECT cn.generation, a.generation, l.resource_class, l.hard_limit
    #   FROM compute_nodes cn
    #   JOIN project_quota_anchors a ON a.project_id = :project_id
    #   LEFT JOIN quota_limits l ON l.project_id = a.project_id
    #  WHERE cn.id = :node_id
    #    FOR UPDATE OF cn, a   -- MariaDB/MySQL: FOR UPDATE (the limit rows too)
    node, anchor = _COMPUTE_NODES, _QUOTA_ANCHORS
    return (
        sa.select(
            node.c.generation,
            anchor.c.generation.label("anchor_generation"),
            _QUOTA_LIMITS.c.resource_class,
            _QUOTA_LIMITS.c.hard_limit,
        )
        .select_from(
            node.join(
                anchor, anchor.c.project_id == sa.bindparam("project_id")
            ).outerjoin(
                _QUOTA_LIMITS, _QUOTA_LIMITS.c.project_id == anchor.c.project_id
            )
        )
        .where(node.c.id == sa.bindparam("node_id"))
        .with_for_update(of=[node, anchor])
    )


_CLAIM_LOCKS = _claim_locks_select()


def lock_for_claim(context, node_id, project_id):
    """Lock the node and the project's quota anchor in one statement and read
    their generations and the project's limits; None when either row is
    missing.

    A locking read returns the latest committed rows and takes no snapshot, so
    the plain reads that follow (on MariaDB at REPEATABLE READ the first one
    fixes the snapshot) see every claim committed before these locks. On a
    Galera node it returns what that node has applied: a claim decided on
    rows another node changed since fails certification at COMMIT (1213) and
    is retried.
    """
    rows = context.session.execute(
        _CLAIM_LOCKS, {"node_id": node_id, "project_id": project_id}
    ).all()
    if not rows:
        return None
    overrides = {r.resource_class: r.hard_limit for r in rows if r.resource_class}
    return ClaimLocks(rows[0].generation, rows[0].anchor_generation, overrides)
