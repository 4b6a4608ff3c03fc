"""Quota checked against real usage inside the claim transaction (seed 003).

Usage is counted from the persisted assignments of the project's live instances;
there is no usage cache and no reservation. The project's anchor row is locked
and its generation compare-and-updated by every claim of the project, so two
claims on two hosts cannot both pass a limit.
"""

import collections

from oslo_db import exception as db_exc
import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack.db import api as db_api
from pmemtrack.db import models
from pmemtrack.objects import quota as quota_obj
from pmemtrack.resource_tracker import generation
from pmemtrack.resource_tracker import usage

_A = models.ProjectQuotaAnchor.__table__
_L = models.QuotaLimit.__table__
_OVERRIDES = sa.select(_L.c.resource_class, _L.c.hard_limit).where(
    _L.c.project_id == sa.bindparam("project_id")
)


# Projects whose anchor row this process has seen; rows are never deleted, so
# this only saves a round trip, it decides nothing.
_KNOWN_ANCHORS = set()


def ensure_anchor(context, project_id):
    """Create the project's anchor row if it does not exist yet.

    Its own short transaction: a duplicate insert aborts a PostgreSQL transaction,
    so it must not happen inside a claim.
    """
    if project_id in _KNOWN_ANCHORS:
        return
    try:
        with db_api.context_manager.writer.independent.using(context):
            exists = context.session.execute(
                sa.select(_A.c.id).where(_A.c.project_id == project_id)
            ).first()
            if exists is None:
                context.session.execute(
                    sa.insert(_A).values(project_id=project_id, generation=0)
                )
    except db_exc.DBDuplicateEntry:
        pass
    _KNOWN_ANCHORS.add(project_id)


def lock_anchor(context, project_id):
    """SELECT generation ... FOR UPDATE: queue claims of one project."""
    anchor = generation.lock(context, _A.c.project_id, project_id)
    if anchor is None:
        # Not there after all (the database was emptied behind this process):
        # forget it so the next attempt creates it.
        _KNOWN_ANCHORS.discard(project_id)
        raise exception.ClaimConflict(what=f"project {project_id}", expected=-1)
    return anchor


def bump_anchor(context, project_id, anchor):
    generation.bump(
        context, _A.c.project_id, project_id, anchor, f"project {project_id}"
    )


def guard(context, conf, project_id, instance_uuid, new_counts, keeps_current):
    """Check the project's quota for a claim; return the anchor generation the
    claim must compare-and-update, or None when nothing it asks for is limited.

    Must run right after the node lock and before any plain read: on MariaDB at
    REPEATABLE READ the first plain read fixes the snapshot, and the project's
    usage must be read from a snapshot taken after the anchor lock. The limits
    are read with a locking read (FOR SHARE), which fixes no snapshot.
    """
    # SELECT resource_class, hard_limit FROM quota_limits
    #  WHERE project_id = :p LOCK IN SHARE MODE / FOR SHARE
    overrides = dict(
        context.session.execute(
            _OVERRIDES.with_for_update(read=True), {"project_id": project_id}
        ).all()
    )
    limits = {
        rc: quota_obj.limit_in_force(overrides, rc, conf.quota) for rc in new_counts
    }
    if all(limit == quota_obj.UNLIMITED for limit in limits.values()):
        return None
    anchor = lock_anchor(context, project_id)
    _check(context, project_id, instance_uuid, new_counts, keeps_current, limits)
    return anchor


def _check(context, project_id, instance_uuid, new_counts, keeps_current, limits):
    """Raise QuotaExceeded unless the instance's use after the claim fits.

    A move keeps the current namespaces until it is confirmed, so its use is the
    larger side; a claim that does not grow the use of a class is not checked.
    """
    holdings = usage.holdings_of_project(context, project_id)
    others = usage.project_usage(holdings, excluding=instance_uuid)
    before = collections.Counter()
    for holding in holdings:
        if holding.instance_uuid == instance_uuid:
            before = holding.count_by_class()
    for rc, count in new_counts.items():
        after = max(count, before[rc]) if keeps_current else count
        limit = limits[rc]
        if after <= before[rc] or limit == quota_obj.UNLIMITED:
            continue
        if others[rc] + after > limit:
            raise exception.QuotaExceeded(
                project_id=project_id,
                resource_class=rc,
                limit=limit,
                usage=others[rc] + before[rc],
                requested=after - before[rc],
            )
