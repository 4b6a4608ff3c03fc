"""Who holds which namespaces, read from the persisted assignments.

Nothing here is cached as state: every claim reads the blobs again inside its
transaction. Only the decoding of a blob is memoised, keyed by the blob's exact
text, because a host with many instances would otherwise spend most of a claim
turning unchanged JSON into objects.
"""

import collections
import dataclasses
import functools

import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack.db import models
from pmemtrack.objects import base
from pmemtrack.objects import migration as migration_obj
from pmemtrack.objects import migration_context as mc_obj
from pmemtrack.objects import resource as resource_obj

_I = models.Instance.__table__
_E = models.InstanceExtra.__table__
_M = models.Migration.__table__


@dataclasses.dataclass(frozen=True)
class Holding:
    """The namespaces one live instance holds, as (provider_uuid, name, class)."""

    instance_uuid: str
    project_id: str
    current: tuple
    old: tuple
    new: tuple

    def keys_on(self, provider_uuid):
        """Names held on one node, each with the role that holds it."""
        for role, held in (
            ("instance", self.current),
            ("old", self.old),
            ("new", self.new),
        ):
            for provider, name, _ in held:
                if provider == provider_uuid:
                    yield name, role

    def count_by_class(self):
        """Quota use: per class, the larger of the two sides of a move."""
        counts = collections.Counter()
        for held in (self.current, self.old, self.new):
            for rc, n in collections.Counter(rc for _, _, rc in held).items():
                counts[rc] = max(counts[rc], n)
        return counts


def _triples(resource_list):
    if resource_list is None:
        return ()
    return tuple(
        (r.provider_uuid, r.identifier, r.resource_class) for r in resource_list
    )


@functools.lru_cache(maxsize=65536)
def _decode_resources(blob):
    return _triples(base.decode(resource_obj.ResourceList, blob))


@functools.lru_cache(maxsize=65536)
def _decode_migration_context(blob):
    context = base.decode(mc_obj.MigrationContext, blob)
    old = context.old_resources if context.obj_attr_is_set("old_resources") else None
    new = context.new_resources if context.obj_attr_is_set("new_resources") else None
    return _triples(old), _triples(new)


def holding_from_row(row):
    """Decode one (uuid, project_id, resources, migration_context) row."""
    try:
        current = _decode_resources(row.resources) if row.resources else ()
    except ValueError as err:
        raise exception.CorruptedBlob(
            instance_uuid=row.uuid, column="instance_extra.resources", reason=str(err)
        )
    old = new = ()
    if row.migration_context:
        try:
            old, new = _decode_migration_context(row.migration_context)
        except ValueError as err:
            raise exception.CorruptedBlob(
                instance_uuid=row.uuid,
                column="instance_extra.migration_context",
                reason=str(err),
            )
    return Holding(row.uuid, row.project_id, current, old, new)


def _holdings_select():
    joined = _I.join(_E, _E.c.instance_uuid == _I.c.uuid)
    return (
        sa.select(_I.c.uuid, _I.c.project_id, _E.c.resources, _E.c.migration_context)
        .select_from(joined)
        .where(_I.c.deleted == 0)
    )


def _on_node_select():
    """Live instances that may hold namespaces of (:host, :node): those placed
    there, and those with a move in progress into or out of it."""
    # SELECT i.uuid, i.project_id, e.resources, e.migration_context
    #   FROM instances i JOIN instance_extra e ON e.instance_uuid = i.uuid
    #  WHERE i.deleted = 0 AND (
    #        (i.host = :host AND i.node = :node)
    #     OR i.uuid IN (SELECT instance_uuid FROM migrations
    #                    WHERE deleted = 0 AND status NOT IN (<finished>)
    #                      AND ((source_compute = :host AND source_node = :node)
    #                        OR (dest_compute = :host AND dest_node = :node))))
    host, node = sa.bindparam("host"), sa.bindparam("node")
    moving = sa.select(_M.c.instance_uuid).where(
        _M.c.deleted == 0,
        _M.c.status.not_in(migration_obj.FINISHED_STATUSES),
        sa.or_(
            sa.and_(_M.c.source_compute == host, _M.c.source_node == node),
            sa.and_(_M.c.dest_compute == host, _M.c.dest_node == node),
        ),
    )
    return _holdings_select().where(
        sa.or_(sa.and_(_I.c.host == host, _I.c.node == node), _I.c.uuid.in_(moving))
    )


# Built once: the claim runs it on every attempt.
_ON_NODE = _on_node_select()
_OF_PROJECT = _holdings_select().where(_I.c.project_id == sa.bindparam("project_id"))


def held_names(context, host, node, provider_uuid):
    """name -> (instance_uuid, role) for every namespace of the node held.

    The claim's hot path: one row per instance on the node, so the decoded
    triples of each distinct pair of blobs are memoised as a whole.
    """
    held = {}
    rows = context.session.execute(_ON_NODE, {"host": host, "node": node}).all()
    for row in rows:
        try:
            triples = _held_triples(row.resources, row.migration_context)
        except ValueError:
            holding_from_row(row)  # raises CorruptedBlob naming row and column
            raise
        for provider, name, role in triples:
            if provider == provider_uuid:
                held[name] = (row.uuid, role)
    return held


@functools.lru_cache(maxsize=65536)
def _held_triples(resources, migration_context):
    """((provider_uuid, name, role), ...) held by one instance's blobs."""
    current = _decode_resources(resources) if resources else ()
    old, new = (
        _decode_migration_context(migration_context) if migration_context else ((), ())
    )
    return tuple(
        (provider, name, role)
        for role, triples in (("instance", current), ("old", old), ("new", new))
        for provider, name, _ in triples
    )


def holdings_of_project(context, project_id):
    rows = context.session.execute(_OF_PROJECT, {"project_id": project_id}).all()
    return [holding_from_row(row) for row in rows]


def project_usage(holdings, excluding=None):
    """Namespaces per resource class the project holds, without one instance."""
    usage = collections.Counter()
    for holding in holdings:
        if holding.instance_uuid != excluding:
            usage.update(holding.count_by_class())
    return usage
