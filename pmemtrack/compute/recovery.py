"""Moves whose owner died, rolled back; guests left behind by moves, removed.

A move's owner updates its migration record at every step and, during a copy,
every ``[migration] recovery_timeout / 4`` seconds. A move in flight whose
record is older than ``recovery_timeout`` has no owner left: the periodic pass
(and ``init_host``) of either host rolls it back, as does ``pmemtrack-manage
migration recover`` on demand:

1. the migration goes from the status seen to ``error`` in a compare-and-update
   (two hosts recovering one move: one does it);
2. the destination's guest is removed (if this process drives that host) and
   the destination's namespaces are released: dirty until wiped there;
3. the instance is placed on the source with its old namespaces (whose data a
   move only ever read), active, its task given back; the source's guest is
   started again (here, or by the source's own next pass).
"""

import datetime

from oslo_log import log as logging
from oslo_utils import timeutils

from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.compute import states
from pmemtrack.resource_tracker import release

LOG = logging.getLogger(__name__)
_INSTANCE_ATTRS = ["flavor", "resources", "migration_context"]


def stale_moves(context, conf, host=None):
    """Moves in flight (touching ``host``, if given) whose owner is gone."""
    before = timeutils.utcnow() - datetime.timedelta(
        seconds=conf.migration.recovery_timeout
    )
    return objects.MigrationList.get_in_flight(context, host, before)


def roll_back(context, conf, migration, managers):
    """Roll ``migration`` back; ``managers`` ({host: ComputeManager}) are the
    hosts this process drives. False if another process took it first."""
    seen = migration.status
    if not migration.compare_and_set_status(seen, "error"):
        return False
    LOG.warning(
        "Rolling back move %s of instance %s (%s -> %s), abandoned in status %s.",
        migration.uuid,
        migration.instance_uuid,
        migration.source_compute,
        migration.dest_compute,
        seen,
    )
    try:
        instance = objects.Instance.get_by_uuid(
            context, migration.instance_uuid, _INSTANCE_ATTRS
        )
    except exception.InstanceNotFound:
        return True  # deleted meanwhile: the delete released everything
    dest = managers.get(migration.dest_compute)
    source = managers.get(migration.source_compute)
    if dest is not None and not migration.is_same_host:
        dest.destroy_guest(context, instance)
    _release_destination(context, conf, instance, migration)
    try:
        _back_on_source(context, instance, migration, source)
    except exception.UnexpectedTaskStateError as err:
        # Another operation (a delete) holds the instance now and finishes it.
        LOG.warning("Move %s rolled back; the instance is left to: %s",
                    migration.uuid, err)  # fmt: skip
    if dest is not None:
        # After the source guest moved back: a same-host guest used them.
        dest.wipe_released(context)
    return True


def _release_destination(context, conf, instance, migration):
    move = instance.migration_context
    if move is None or move.migration_id != migration.id:
        return  # the claim never happened, or was already undone

    def change(ctx):
        instance.finish_move(ctx, "old", migration)

    describe = {"instance_uuid": instance.uuid, "node": migration.dest_node}
    release.release(context, conf, instance.uuid, change, describe)


def _back_on_source(context, instance, migration, source):
    instance = objects.Instance.get_by_uuid(context, instance.uuid, _INSTANCE_ATTRS)
    instance.flavor = migration.old_flavor
    # A move dies before its instance is resized: vm_state is what it was.
    stopped = instance.vm_state == states.STOPPED
    instance.vm_state = states.STOPPED if stopped else states.ACTIVE
    instance.task_state = None
    instance.save(expected_task_state=[None, *states.MOVE_TASKS])
    if source is not None:
        source.driver.finish_revert_migration(
            context, instance, None, migration, None, not stopped
        )
        source.record_power_state(context, instance)


def recover_stale(context, conf, host, managers):
    """Roll back every abandoned move touching ``host``; their uuids."""
    return [
        migration.uuid
        for migration in stale_moves(context, conf, host)
        if roll_back(context, conf, migration, managers)
    ]


def _stray(context, instance_uuid, host):
    """The instance, if its guest on ``host`` has no business there: the
    instance lives on another host (and is not moving through this one), or
    was deleted (an evacuated instance deleted before its old host came back)."""
    try:
        instance = objects.Instance.get_by_uuid(
            context, instance_uuid, ["migration_context"]
        )
    except exception.InstanceNotFound:
        try:
            return objects.Instance.get_deleted_by_uuid(context, instance_uuid)
        except exception.InstanceNotFound:
            return None
    if instance.host == host or instance.migration_context is not None:
        return None
    return instance


def stray_guests(context, manager):
    """Guests on ``manager``'s host left behind by moves that are over (a move
    confirmed, reverted or rolled back, an evacuation), of instances that live
    elsewhere or were deleted: removed, so the namespaces they used can be
    wiped."""
    removed = []
    for migration in objects.MigrationList.get_done_by_host(context, manager.host):
        instance = _stray(context, migration.instance_uuid, manager.host)
        if instance is None or instance.uuid in removed:
            continue
        if manager.driver.instance_exists(instance):
            LOG.warning(
                "Removing the guest of instance %s from %s: it lives on %s now.",
                instance.uuid,
                manager.host,
                instance.host or "no host (deleted)",
            )
            manager.destroy_guest(context, instance)
            removed.append(instance.uuid)
    return removed


def _is_stale(when, conf):
    if when is None:
        return True
    limit = timeutils.utcnow() - datetime.timedelta(
        seconds=conf.migration.recovery_timeout
    )
    return when.replace(tzinfo=None) < limit


def recover_abandoned(context, conf, instance, managers):
    """The operation holding ``instance`` was abandoned (its process died):
    roll its move back, or give its task back; True if so. A live operation
    (updated within recovery_timeout) is left alone: False."""
    moves = [
        m
        for m in objects.MigrationList.get_by_instance(context, instance.uuid)
        if m.status in objects.migration.IN_FLIGHT_STATUSES
    ]
    if moves:
        if not all(_is_stale(m.updated_at or m.created_at, conf) for m in moves):
            return False
        for migration in moves:
            roll_back(context, conf, migration, managers)
        return True
    if instance.task_state is None or not _is_stale(instance.updated_at, conf):
        return False
    LOG.warning(
        "Giving back task %s of instance %s: it was abandoned.",
        instance.task_state,
        instance.uuid,
    )
    stuck, instance.task_state = instance.task_state, None
    try:
        instance.save(expected_task_state=[stuck])
    except exception.UnexpectedTaskStateError:
        return False
    return True
