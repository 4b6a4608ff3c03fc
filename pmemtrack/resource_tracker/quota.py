"""Quota checked against real usage inside the claim transaction.

Usage is counted from the persisted assignments of the project's live instances;
there is no usage cache and no reservation. Every claim of the project locks
its anchor row (in the claim's first statement, with the node), and a claim
that a limit applies to compare-and-updates the anchor's generation, so two
claims on two hosts cannot both pass a limit.
"""

from pmemtrack import exception
from pmemtrack.db import api as db_api
from pmemtrack.db import models
from pmemtrack.objects import quota as quota_obj
from pmemtrack.resource_tracker import generation
from pmemtrack.resource_tracker import usage

_QUOTA_ANCHORS = models.ProjectQuotaAnchor.__table__


# Projects whose anchor row this process has seen; rows are never deleted, so
# this only saves a round trip, it decides nothing.
_KNOWN_ANCHORS = set()


def ensure_anchor(context, project_id):
    """Create the project's anchor row (objects/quota.py, in its own short
    transaction) unless this process has seen it; called before each claim
    attempt, outside the claim's transaction."""
    if project_id in _KNOWN_ANCHORS:
        return
    quota_obj.ensure_anchor(context, project_id)
    _KNOWN_ANCHORS.add(project_id)


def forget_anchor(project_id):
    """The anchor row was not there after all (the database was emptied
    behind this process): the next attempt creates it again."""
    _KNOWN_ANCHORS.discard(project_id)


def bump_anchor(context, project_id, anchor):
    generation.bump(
        context,
        _QUOTA_ANCHORS.c.project_id,
        project_id,
        anchor,
        f"project {project_id}",
    )


def limits_in_force(conf, new_counts, overrides):
    """The limit of each class the claim asks for, or None when none is
    limited (then the claim neither counts use nor bumps the anchor).
    ``overrides``: the project's limits, read under the anchor lock in the
    claim's first statement."""
    limits = {
        rc: quota_obj.limit_in_force(overrides, rc, conf.quota) for rc in new_counts
    }
    if all(limit == quota_obj.UNLIMITED for limit in limits.values()):
        return None
    return limits


def check(project_id, new_counts, keeps_current, limits, project_use):
    """Raise QuotaExceeded unless the instance's use after the claim fits.

    ``project_use`` is (the project's other live instances' use, the
    instance's own), read in the claim's snapshot (node_view). A move keeps
    the current namespaces until it is confirmed, so its use is the larger
    side; a claim that does not grow the use of a class is not checked.
    """
    others, before = project_use
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


@db_api.context_manager.reader
def project_use(context, project_id):
    """(the project's limit overrides, namespaces per resource class its live
    instances use), read in one transaction: what ``quota show`` prints."""
    overrides = quota_obj.overrides_of_project(context, project_id)
    holdings = usage.holdings_of_project(context, project_id)
    return overrides, usage.project_usage(holdings)
