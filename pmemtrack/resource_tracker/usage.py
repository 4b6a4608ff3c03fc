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
from pmemtrack.objects import instance_extra

_INSTANCES = models.Instance.__table__
_INSTANCE_EXTRA = models.InstanceExtra.__table__
_MIGRATIONS = models.Migration.__table__


@dataclasses.dataclass(frozen=True)
class Holding:
    """The namespaces one live instance holds, each side a tuple of
    (provider_uuid, name, resource class, devpath)."""

    instance_uuid: str
    project_id: str
    current: tuple
    old: tuple
    new: tuple

    def count_by_class(self):
        """Quota use: per class, the larger of the two sides of a move."""
        counts = collections.Counter()
        for held in (self.current, self.old, self.new):
            for rc, n in collections.Counter(rc for _, _, rc, _ in held).items():
                counts[rc] = max(counts[rc], n)
        return counts


def _quads(resource_list):
    """(provider_uuid, name, resource class, devpath) of each resource."""
    if resource_list is None:
        return ()
    return tuple(
        (
            r.provider_uuid,
            r.identifier,
            r.resource_class,
            getattr(r.metadata, "devpath", None),
        )
        for r in resource_list
    )


# Decoding is memoised by the blob's exact text; a blob that cannot be decoded
# raises CorruptedBlob (never cached), whatever reads it.
@functools.lru_cache(maxsize=65536)
def _decode_resources(instance_uuid, blob):
    return _quads(instance_extra.decode(instance_uuid, "resources", blob))


@functools.lru_cache(maxsize=65536)
def _decode_migration_context(instance_uuid, blob):
    move = instance_extra.decode(instance_uuid, "migration_context", blob)
    if move is None:
        return (), ()
    old = move.old_resources if move.obj_attr_is_set("old_resources") else None
    new = move.new_resources if move.obj_attr_is_set("new_resources") else None
    return _quads(old), _quads(new)


def holding_from_row(row):
    """Decode one (uuid, project_id, resources, migration_context) row.

    Only SQL NULL means "holds nothing": an empty string, or anything else that
    is not the JSON of the right object, raises CorruptedBlob, so a namespace is
    never taken as free because its holder's row is unreadable.
    """
    current = _decode_resources(row.uuid, row.resources)
    old, new = _decode_migration_context(row.uuid, row.migration_context)
    return Holding(row.uuid, row.project_id, current, old, new)


# The indexed marker finds the instances that may hold something; the blobs
# themselves decide (the marker may outlive them).
_HOLDS_SOMETHING = sa.and_(
    _INSTANCES.c.holds_resources == sa.true(),
    sa.or_(
        _INSTANCE_EXTRA.c.resources.is_not(None),
        _INSTANCE_EXTRA.c.migration_context.is_not(None),
    ),
)


def _holdings_select(tag=(), pad=0):
    """The holding columns of live instances, after the ``tag`` columns and
    before ``pad`` NULLs: rows that can share a UNION ALL with others."""
    joined = _INSTANCES.join(
        _INSTANCE_EXTRA, _INSTANCE_EXTRA.c.instance_uuid == _INSTANCES.c.uuid
    )
    columns = (
        _INSTANCES.c.uuid,
        _INSTANCES.c.project_id,
        _INSTANCE_EXTRA.c.resources,
        _INSTANCE_EXTRA.c.migration_context,
    )
    pad = [sa.cast(sa.null(), sa.String).label(f"pad{n}") for n in range(pad)]
    return (
        sa.select(*tag, *columns, *pad)
        .select_from(joined)
        .where(_INSTANCES.c.deleted == 0)
    )


def on_node_selects(tag=(), pad=0):
    """The two branches of ``_on_node_select`` (see _holdings_select)."""
    host, node = sa.bindparam("host"), sa.bindparam("node")
    placed = _holdings_select(tag, pad).where(
        _INSTANCES.c.host == host, _INSTANCES.c.node == node, _HOLDS_SOMETHING
    )
    moving = (
        _holdings_select(tag, pad)
        .join(_MIGRATIONS, _MIGRATIONS.c.instance_uuid == _INSTANCES.c.uuid)
        .where(
            _INSTANCE_EXTRA.c.migration_context.is_not(None),
            sa.or_(
                sa.and_(
                    _MIGRATIONS.c.source_compute == host,
                    _MIGRATIONS.c.source_node == node,
                ),
                sa.and_(
                    _MIGRATIONS.c.dest_compute == host, _MIGRATIONS.c.dest_node == node
                ),
            ),
        )
    )
    return placed, moving


def of_project_select(tag=(), pad=0):
    # SELECT i.uuid, i.project_id, e.resources, e.migration_context
    #   FROM instances i JOIN instance_extra e ON e.instance_uuid = i.uuid
    #  WHERE i.deleted = 0 AND i.project_id = :project_id
    #    AND i.holds_resources = true
    #    AND (e.resources IS NOT NULL OR e.migration_context IS NOT NULL)
    return _holdings_select(tag, pad).where(
        _INSTANCES.c.project_id == sa.bindparam("project_id"), _HOLDS_SOMETHING
    )


def _on_node_select():
    """Live instances whose blobs may name namespaces of (:host, :node), and
    only those: the instances placed there that hold something (found through
    the indexed ``holds_resources`` marker: most instances of a mixed host
    hold no namespace and are not read), and the
    instances with a move recorded in their blob (in progress, failed or
    interrupted) whose migration starts or ends there. A move's blob always
    names a migration of its two nodes (``Instance.start_move`` checks it) and
    migration rows are never deleted, so the second branch misses no side of
    any move."""
    # SELECT i.uuid, i.project_id, e.resources, e.migration_context
    #   FROM instances i JOIN instance_extra e ON e.instance_uuid = i.uuid
    #  WHERE i.deleted = 0 AND i.host = :host AND i.node = :node
    #    AND i.holds_resources = true
    #    AND (e.resources IS NOT NULL OR e.migration_context IS NOT NULL)
    # UNION ALL
    # SELECT i.uuid, i.project_id, e.resources, e.migration_context
    #   FROM migrations m JOIN instances i ON i.uuid = m.instance_uuid
    #   JOIN instance_extra e ON e.instance_uuid = i.uuid
    #  WHERE i.deleted = 0 AND e.migration_context IS NOT NULL
    #    AND ((m.source_compute = :host AND m.source_node = :node)
    #         OR (m.dest_compute = :host AND m.dest_node = :node))
    return sa.union_all(*on_node_selects())


# Built once: the claim runs them on every attempt.
_ON_NODE = _on_node_select()
_OF_PROJECT = of_project_select()
OF_INSTANCE = _holdings_select().where(_INSTANCES.c.uuid == sa.bindparam("uuid"))


def held_names(context, host, node, provider_uuid, devpaths=None):
    """held_by_rows() of the holders of (host, node), read now."""
    rows = context.session.execute(_ON_NODE, {"host": host, "node": node}).all()
    return held_by_rows(rows, provider_uuid, devpaths)


def held_by_rows(rows, provider_uuid, devpaths=None):
    """name -> (instance_uuid, role) for every namespace of the node
    ``provider_uuid`` that rows of (uuid, project_id, resources,
    migration_context) hold.

    ``devpaths`` (name -> the devpath behind the name) checks every holding
    against the device actually behind the name: a blob that names a namespace
    with another device's path is corrupted (a guest defined from it, or a wipe,
    would hit another tenant's device), and raises CorruptedBlob.
    """
    held = {}
    for uuid, _, resources, migration_context in rows:
        for provider, name, role, devpath in _held_quads(
            uuid, resources, migration_context
        ):
            if provider != provider_uuid:
                continue
            if devpaths is not None and devpaths.get(name, devpath) != devpath:
                raise exception.CorruptedBlob(
                    instance_uuid=uuid,
                    column=_COLUMN_OF_ROLE[role],
                    reason=f"it names namespace {name} with device {devpath}, but "
                    f"the device of {name} is {devpaths[name]}",
                )
            held[name] = (uuid, role)
    return held


_COLUMN_OF_ROLE = {
    "instance": "instance_extra.resources",
    "old": "instance_extra.migration_context",
    "new": "instance_extra.migration_context",
}


@functools.lru_cache(maxsize=65536)
def _held_quads(instance_uuid, resources, migration_context):
    """((provider_uuid, name, role, devpath), ...) held by one instance's blobs;
    memoised as a whole, as the claim reads every instance of the node."""
    current = _decode_resources(instance_uuid, resources)
    old, new = _decode_migration_context(instance_uuid, migration_context)
    return tuple(
        (provider, name, role, devpath)
        for role, quads in (("instance", current), ("old", old), ("new", new))
        for provider, name, _, devpath in quads
    )


def holding_of_instance(context, instance_uuid):
    """The Holding of one live instance, or None if it is gone."""
    row = context.session.execute(OF_INSTANCE, {"uuid": instance_uuid}).first()
    return None if row is None else holding_from_row(row)


def holdings_of_project(context, project_id):
    rows = context.session.execute(_OF_PROJECT, {"project_id": project_id}).all()
    return [holding_from_row(row) for row in rows]


@functools.lru_cache(maxsize=65536)
def _counts_of_blobs(instance_uuid, resources, migration_context):
    """((resource class, quota use), ...) of one instance's blobs, memoised:
    a claim counts the use of every instance of its project."""
    current = _decode_resources(instance_uuid, resources)
    old, new = _decode_migration_context(instance_uuid, migration_context)
    holding = Holding(instance_uuid, None, current, old, new)
    return tuple(holding.count_by_class().items())


def counts_by_rows(rows, instance_uuid):
    """(what the project's other live instances use, what ``instance_uuid``
    uses), each as namespaces per resource class, from rows of (uuid,
    project_id, resources, migration_context)."""
    others, own = collections.Counter(), collections.Counter()
    for uuid, _, resources, migration_context in rows:
        counts = _counts_of_blobs(uuid, resources, migration_context)
        target = own if uuid == instance_uuid else others
        for rc, n in counts:
            target[rc] += n
    return others, own


def project_usage(holdings, excluding=None):
    """Namespaces per resource class the project holds, without one instance."""
    usage = collections.Counter()
    for holding in holdings:
        if holding.instance_uuid != excluding:
            usage.update(holding.count_by_class())
    return usage
