"""pmemtrack-manage migration: moves in flight, their age and step, and the
roll-back of one whose process died."""

from oslo_utils import timeutils

from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.compute import recovery

COLUMNS = (
    "Migration",
    "Instance",
    "Type",
    "Source",
    "Destination",
    "Status",
    "Task state",
    "Age (s)",
    "Copy",
)


def _age(migration, now):
    when = migration.updated_at or migration.created_at
    return int((now - when.replace(tzinfo=None)).total_seconds())


def _task_state(context, instance_uuid):
    try:
        return objects.Instance.get_by_uuid(context, instance_uuid).task_state
    except exception.InstanceNotFound:
        return "(deleted)"


def rows(context):
    """One row per move in flight, oldest first; age = seconds since its last
    step or heartbeat."""
    now = timeutils.utcnow()
    return [
        (
            m.uuid,
            m.instance_uuid,
            m.migration_type,
            m.source_compute,
            m.dest_compute,
            m.status,
            _task_state(context, m.instance_uuid),
            _age(m, now),
            m.copy_pmem_devices,
        )
        for m in objects.MigrationList.get_in_flight(context)
    ]


class MoveNotAbandoned(exception.PmemtrackException):
    msg_fmt = (
        "Migration %(migration)s was updated %(age)d s ago, within [migration] "
        "recovery_timeout (%(timeout)d s): its process may still be at work. "
        "Make sure it is not, then run again with --force."
    )


class MoveNotInFlight(exception.PmemtrackException):
    msg_fmt = (
        "Migration %(migration)s is %(status)s: only a move in flight "
        "(accepted, pre-migrating, migrating, post-migrating) can be recovered."
    )


def recover(context, conf, migration_uuid, start_managers, force=False):
    """Roll back one move in flight (recovery.roll_back); refused for a move
    younger than recovery_timeout unless ``force``. ``start_managers(m)``
    gives the hosts of move ``m`` this process drives, once it is eligible."""
    migration = objects.Migration.get_by_uuid(context, migration_uuid)
    if migration.status not in objects.migration.IN_FLIGHT_STATUSES:
        raise MoveNotInFlight(migration=migration.uuid, status=migration.status)
    age = _age(migration, timeutils.utcnow())
    timeout = conf.migration.recovery_timeout
    if age < timeout and not force:
        raise MoveNotAbandoned(migration=migration.uuid, age=age, timeout=timeout)
    managers = start_managers(migration)
    if not recovery.roll_back(context, conf, migration, managers):
        raise MoveNotInFlight(migration=migration.uuid, status="taken by another")
    return objects.Migration.get_by_uuid(context, migration_uuid)


RECOVERED_COLUMNS = ("Migration", "Instance", "Status")


def recovered_row(migration):
    return (migration.uuid, migration.instance_uuid, migration.status)
