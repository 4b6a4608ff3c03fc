"""Quota limits: per-project overrides in the DB over defaults from [quota].

There is no usage table and no reservation: usage is counted from the persisted
assignments by the tracker, and the project's anchor generation (bumped in every
claim transaction) keeps two concurrent claims from both passing a limit.
"""

from oslo_db import exception as db_exc
from oslo_utils import timeutils
import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack.db import api as db_api
from pmemtrack.db import models
from pmemtrack.objects import base
from pmemtrack.objects import fields

UNLIMITED = -1
# hard_limit is an INTEGER column: 32 bits on MariaDB and PostgreSQL.
MAX_LIMIT = 2**31 - 1
_LIMITS = models.QuotaLimit.__table__
_QUOTA_ANCHORS = models.ProjectQuotaAnchor.__table__


def limit_in_force(overrides, resource_class, quota_conf):
    """The limit in force: project override, then class default, then default."""
    if resource_class in overrides:
        return overrides[resource_class]
    return quota_conf.class_limits.get(resource_class, quota_conf.default_limit)


def check_limit(resource_class, limit):
    if (
        not isinstance(limit, int)
        or isinstance(limit, bool)
        or not UNLIMITED <= limit <= MAX_LIMIT
    ):
        raise exception.InvalidQuotaLimit(resource_class=resource_class, limit=limit)


def overrides_of_project(context, project_id):
    """{resource class: hard limit} of the project, in the caller's transaction."""
    query = sa.select(_LIMITS.c.resource_class, _LIMITS.c.hard_limit).where(
        _LIMITS.c.project_id == project_id
    )
    return dict(context.session.execute(query).all())


@db_api.context_manager.writer.independent
def _create_anchor_unless_exists(context, project_id):
    # SELECT id FROM project_quota_anchors WHERE project_id = :project_id
    # INSERT INTO project_quota_anchors (project_id, generation) VALUES (:p, 0)
    exists = context.session.execute(
        sa.select(_QUOTA_ANCHORS.c.id).where(_QUOTA_ANCHORS.c.project_id == project_id)
    ).first()
    if exists is None:
        context.session.execute(
            sa.insert(_QUOTA_ANCHORS).values(project_id=project_id, generation=0)
        )


def ensure_anchor(context, project_id):
    """Create the project's quota anchor row (the row every claim of the
    project locks, whose generation only the claim's compare-and-update
    changes) if it does not exist yet.

    Its own short transaction: a duplicate insert aborts a PostgreSQL
    transaction, so it must not happen inside a claim.
    """
    try:
        _create_anchor_unless_exists(context, project_id)
    except db_exc.DBDuplicateEntry:
        return  # a concurrent claim of the project created it first


@db_api.context_manager.reader
def projects_with_overrides(context):
    """Every project that has an override of some limit."""
    query = sa.select(_LIMITS.c.project_id).distinct()
    return {project_id for (project_id,) in context.session.execute(query)}


@db_api.context_manager.reader
def _get_by_project(context, project_id):
    query = (
        sa.select(_LIMITS)
        .where(_LIMITS.c.project_id == project_id)
        .order_by(_LIMITS.c.resource_class)
    )
    return context.session.execute(query).all()


@db_api.context_manager.writer
def _set(context, project_id, resource_class, hard_limit):
    now = timeutils.utcnow()
    where = sa.and_(
        _LIMITS.c.project_id == project_id, _LIMITS.c.resource_class == resource_class
    )
    updated = context.session.execute(
        sa.update(_LIMITS).where(where).values(hard_limit=hard_limit, updated_at=now)
    )
    if updated.rowcount:
        return
    try:
        with context.session.begin_nested():
            context.session.execute(
                sa.insert(_LIMITS).values(
                    project_id=project_id,
                    resource_class=resource_class,
                    hard_limit=hard_limit,
                    created_at=now,
                )
            )
    except db_exc.DBDuplicateEntry:
        _set(context, project_id, resource_class, hard_limit)


@db_api.context_manager.writer
def _unset(context, project_id, resource_class):
    result = context.session.execute(
        sa.delete(_LIMITS).where(
            _LIMITS.c.project_id == project_id,
            _LIMITS.c.resource_class == resource_class,
        )
    )
    if not result.rowcount:
        raise exception.QuotaLimitNotFound(
            project_id=project_id, resource_class=resource_class
        )


@base.PmemtrackObjectRegistry.register
class QuotaLimit(base.PmemtrackObject):
    VERSION = "1.0"
    fields = {
        "project_id": fields.StringField(),
        "resource_class": fields.ResourceClassField(),
        # -1 is unlimited.
        "hard_limit": fields.IntegerField(),
    }

    @classmethod
    def set(cls, context, project_id, resource_class, hard_limit):
        check_limit(resource_class, hard_limit)
        limit = cls(
            context,
            project_id=project_id,
            resource_class=resource_class,
            hard_limit=hard_limit,
        )
        _set(context, project_id, limit.resource_class, hard_limit)
        limit.obj_reset_changes()
        return limit

    @classmethod
    def unset(cls, context, project_id, resource_class):
        _unset(context, project_id, resource_class)


@base.PmemtrackObjectRegistry.register
class QuotaLimitList(base.ObjectListBase, base.PmemtrackObject):
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("QuotaLimit")}

    @classmethod
    def get_by_project(cls, context, project_id):
        limits = [
            base.load_row(QuotaLimit(context), row, QuotaLimit.fields)
            for row in _get_by_project(context, project_id)
        ]
        return cls(context, objects=limits)

    def limit_for(self, resource_class, quota_conf):
        overrides = {limit.resource_class: limit.hard_limit for limit in self.objects}
        return limit_in_force(overrides, resource_class, quota_conf)
