"""The writes that change who holds what, each inside the caller's transaction.

They go straight to instances / instance_extra with SQLAlchemy Core: they run in
the claim transaction, and what they write is what the next claim reads.
"""

import functools

from oslo_utils import timeutils
import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack.db import models
from pmemtrack.objects import base
from pmemtrack.objects import instance as instance_obj
from pmemtrack.objects import migration_context as mc_obj

_INSTANCES = models.Instance.__table__
_INSTANCE_EXTRA = models.InstanceExtra.__table__
_MIGRATIONS = models.Migration.__table__


def _blob(obj):
    return None if obj is None else base.to_json(obj)


def _read_extra(context, instance_uuid, column):
    query = (
        sa.select(_INSTANCE_EXTRA.c[column])
        .join(_INSTANCES, _INSTANCES.c.uuid == _INSTANCE_EXTRA.c.instance_uuid)
        .where(
            _INSTANCE_EXTRA.c.instance_uuid == instance_uuid, _INSTANCES.c.deleted == 0
        )
    )
    row = context.session.execute(query).first()
    if row is None:
        raise exception.InstanceNotFound(instance_uuid=instance_uuid)
    return instance_obj.decode_extra(instance_uuid, column, row[0])


def read_resources(context, instance_uuid):
    return _read_extra(context, instance_uuid, "resources")


def read_move(context, instance_uuid):
    move = _read_extra(context, instance_uuid, "migration_context")
    if move is None:
        raise exception.InvalidClaim(
            action="finish a move",
            instance_uuid=instance_uuid,
            reason="it has no move in progress (no migration_context)",
        )
    return move


@functools.cache
def _instance_update(placement, marker):
    # UPDATE instances SET [host = :new_host, node = :new_node,]
    #        [holds_resources = :holds,] updated_at = :now
    #  WHERE uuid = :instance_uuid AND deleted = 0
    values = {"updated_at": sa.bindparam("now")}
    if placement:
        values.update(host=sa.bindparam("new_host"), node=sa.bindparam("new_node"))
    if marker:
        values["holds_resources"] = sa.bindparam("holds")
    return (
        sa.update(_INSTANCES)
        .where(
            _INSTANCES.c.uuid == sa.bindparam("instance_uuid"),
            _INSTANCES.c.deleted == 0,
        )
        .values(**values)
    )


@functools.cache
def _blobs_update(columns):
    # UPDATE instance_extra SET <column> = :new_<column>, ..., updated_at = :now
    #  WHERE instance_uuid = :of_instance
    return (
        sa.update(_INSTANCE_EXTRA)
        .where(_INSTANCE_EXTRA.c.instance_uuid == sa.bindparam("of_instance"))
        .values(updated_at=sa.bindparam("now"),
                **{c: sa.bindparam(f"new_{c}") for c in columns})
    )  # fmt: skip


def _write(context, instance_uuid, placement=None, **extra):
    """Place the instance and/or rewrite its blobs; the instance's
    holds_resources marker follows the blobs (see holds_resources_after)."""
    now = timeutils.utcnow()
    blobs = {k: _blob(v) for k, v in extra.items()}
    holds = instance_obj.holds_resources_after(blobs)
    if placement is not None or holds is not None:
        host, node = placement or (None, None)
        result = context.session.execute(
            _instance_update(placement is not None, holds is not None),
            {"instance_uuid": instance_uuid, "new_host": host, "new_node": node,
             "holds": holds, "now": now},
        )  # fmt: skip
        if result.rowcount != 1:
            raise exception.InstanceNotFound(instance_uuid=instance_uuid)
    if blobs:
        context.session.execute(
            _blobs_update(tuple(sorted(blobs))),
            dict({f"new_{k}": v for k, v in blobs.items()},
                 of_instance=instance_uuid, now=now),
        )  # fmt: skip


def assign(context, instance, node, resources):
    _write(
        context,
        instance.uuid,
        (node.host, node.hypervisor_hostname),
        resources=resources,
    )


def unassign(context, instance):
    _write(context, instance.uuid, (None, None), resources=None)


def delete(context, instance):
    now = timeutils.utcnow()
    result = context.session.execute(
        sa.update(_INSTANCES)
        .where(_INSTANCES.c.uuid == instance.uuid, _INSTANCES.c.deleted == 0)
        .values(deleted=_INSTANCES.c.id, deleted_at=now)
    )
    if result.rowcount != 1:
        raise exception.InstanceNotFound(instance_uuid=instance.uuid)
    context.session.execute(
        sa.update(_INSTANCE_EXTRA)
        .where(_INSTANCE_EXTRA.c.instance_uuid == instance.uuid)
        .values(deleted=_INSTANCE_EXTRA.c.id, deleted_at=now)
    )


def _check_move_nodes(context, instance_uuid, migration_id, node):
    """The move's migration row must exist and join the instance's current
    node to ``node``: the claim finds the instances with a move through it
    (``usage._on_node_select``), so a blob naming another migration would hide
    namespaces from the claims of those nodes."""
    # SELECT m.source_compute, m.source_node, m.dest_compute, m.dest_node,
    #        i.host, i.node
    #   FROM migrations m JOIN instances i ON i.uuid = m.instance_uuid
    #  WHERE m.id = :migration_id AND i.uuid = :instance_uuid AND i.deleted = 0
    row = context.session.execute(
        sa.select(
            _MIGRATIONS.c.source_compute, _MIGRATIONS.c.source_node, _MIGRATIONS.c.dest_compute,
            _MIGRATIONS.c.dest_node, _INSTANCES.c.host, _INSTANCES.c.node,
        )
        .join(_INSTANCES, _INSTANCES.c.uuid == _MIGRATIONS.c.instance_uuid)
        .where(_MIGRATIONS.c.id == migration_id, _INSTANCES.c.uuid == instance_uuid,
               _INSTANCES.c.deleted == 0)
    ).first()  # fmt: skip
    expected = (node.host, node.hypervisor_hostname)
    if row is None or row[:2] != row[4:] or row[2:4] != expected:
        raise exception.InvalidClaim(
            action="claim a move",
            instance_uuid=instance_uuid,
            reason=f"migration {migration_id} does not lead from the instance's "
            f"node to {expected[0]}/{expected[1]} (found: {row and tuple(row)})",
        )


def start_move(context, instance, migration, node, resources):
    _check_move_nodes(context, instance.uuid, migration.id, node)
    if _read_extra(context, instance.uuid, "migration_context") is not None:
        raise exception.InvalidClaim(
            action="claim a move",
            instance_uuid=instance.uuid,
            reason="another move is in progress; confirm or revert it first",
        )
    move = mc_obj.new(
        instance.uuid, migration.id, read_resources(context, instance.uuid), resources
    )
    _write(context, instance.uuid, migration_context=move)


def land_move(context, instance, migration):
    move = read_move(context, instance.uuid)
    _write(
        context,
        instance.uuid,
        (migration.dest_compute, migration.dest_node),
        resources=move.new_resources,
    )


def finish_move(context, instance, keep, migration):
    """Confirm (keep='new') or revert (keep='old') the move in progress."""
    move = read_move(context, instance.uuid)
    if keep == "new":
        placement = (migration.dest_compute, migration.dest_node)
        resources = move.new_resources
    else:
        placement = (migration.source_compute, migration.source_node)
        resources = move.old_resources
    _write(
        context, instance.uuid, placement, resources=resources, migration_context=None
    )


def apply_assignment(instance, host, node, resources):
    """Mirror a committed assignment on the in-memory instance."""
    instance.host = host
    instance.node = node
    instance.resources = resources
    instance.obj_reset_changes(["host", "node", "resources"], recursive=True)
