"""Quota checked against real usage inside the claim transaction (seed 003).

Usage is counted from the persisted assignments of the project's live instances;
there is no usage cache and no reservation. Every claim of the project locks
its anchor row (in the claim's first statement, with the node), and a claim
that a limit applies to compare-and-updates the anchor's generation, so two
claims on two hosts cannot both pass a limit.
"""

from oslo_db import exception as db_exc
import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack.db import api as db_api
from pmemtrack.db import models
from pmemtrack.objects import quota as quota_obj
from pmemtrack.resource_tracker import generation
from pmemtrack.resource_tracker import usage

_A = models.ProjectQuotaAnchor.__table__


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


def forget_anchor(project_id):
    """The anchor row was not there after all (the database was emptied
    behind this process): the next attempt creates it again."""
    _KNOWN_ANCHORS.discard(project_id)


def bump_anchor(context, project_id, anchor):
    generation.bump(
        context, _A.c.project_id, project_id, anchor, f"project {project_id}"
    )


def guard(context, conf, project_id, instance_uuid, new_counts, keeps_current,
          overrides):  # fmt: skip
    """Check the project's quota for a claim; whether anything it asks for is
    limited (then the claim must compare-and-update the project's anchor).

    ``overrides`` are the project's limits, read under the anchor lock in the
    claim's first statement; usage is read from a snapshot taken after it.
    """
    limits = {
        rc: quota_obj.limit_in_force(overrides, rc, conf.quota) for rc in new_counts
    }
    if all(limit == quota_obj.UNLIMITED for limit in limits.values()):
        return False
    _check(context, project_id, instance_uuid, new_counts, keeps_current, limits)
    return True


def _check(context, project_id, instance_uuid, new_counts, keeps_current, limits):
    """Raise QuotaExceeded unless the instance's use after the claim fits.

    A move keeps the current namespaces until it is confirmed, so its use is the
    larger side; a claim that does not grow the use of a class is not checked.
    """
    others, before = usage.project_counts(context, project_id, instance_uuid)
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
