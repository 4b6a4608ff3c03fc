"""Migration: one resize or cold migration, and whether it copies PMEM data."""

from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack.db import api as db_api
from pmemtrack.db import models
from pmemtrack.objects import base
from pmemtrack.objects import fields
from pmemtrack.objects import flavor as flavor_obj

# A move in one of these states holds nothing any more (Nova's list).
FINISHED_STATUSES = (
    "confirmed",
    "reverted",
    "error",
    "failed",
    "completed",
    "cancelled",
    "done",
)
# A move in one of these states has an owner doing a step now.
IN_FLIGHT_STATUSES = ("accepted", "pre-migrating", "migrating", "post-migrating")
_COLUMNS = (
    "id",
    "uuid",
    "instance_uuid",
    "source_compute",
    "source_node",
    "dest_compute",
    "dest_node",
    "dest_host",
    "migration_type",
    "status",
    "copy_pmem_devices",
    "created_at",
    "updated_at",
)
_FLAVOR_COLUMNS = ("old_flavor", "new_flavor")
_TABLE = models.Migration.__table__


@db_api.context_manager.reader
def _get_one(context, **filters):
    query = sa.select(_TABLE).where(_TABLE.c.deleted == 0)
    for column, value in filters.items():
        query = query.where(_TABLE.c[column] == value)
    row = context.session.execute(query).first()
    if row is None:
        raise exception.MigrationNotFound(migration=filters)
    return row


@db_api.context_manager.reader
def _get_in_progress(context, host, node):
    # SELECT * FROM migrations WHERE deleted = 0
    #   AND status NOT IN (<finished>)
    #   AND ((source_compute = :host AND source_node = :node)
    #        OR (dest_compute = :host AND dest_node = :node))
    c = _TABLE.c
    query = sa.select(_TABLE).where(
        c.deleted == 0,
        c.status.not_in(FINISHED_STATUSES),
        sa.or_(
            sa.and_(c.source_compute == host, c.source_node == node),
            sa.and_(c.dest_compute == host, c.dest_node == node),
        ),
    )
    return context.session.execute(query.order_by(c.id)).all()


@db_api.context_manager.reader
def _get_in_flight(context, host, before):
    # SELECT * FROM migrations WHERE deleted = 0 AND status IN (<in flight>)
    #   AND (source_compute = :host OR dest_compute = :host)
    #   [AND COALESCE(updated_at, created_at) < :before]
    c = _TABLE.c
    query = sa.select(_TABLE).where(
        c.deleted == 0,
        c.status.in_(IN_FLIGHT_STATUSES),
    )
    if host is not None:
        query = query.where(sa.or_(c.source_compute == host, c.dest_compute == host))
    if before is not None:
        query = query.where(sa.func.coalesce(c.updated_at, c.created_at) < before)
    return context.session.execute(query.order_by(c.id)).all()


@db_api.context_manager.reader
def _get_done_by_host(context, host):
    # SELECT * FROM migrations WHERE deleted = 0 AND status NOT IN (<in flight>)
    #   AND status <> 'finished' AND (source_compute = :host OR dest_compute = :host)
    c = _TABLE.c
    query = sa.select(_TABLE).where(
        c.deleted == 0,
        c.status.not_in((*IN_FLIGHT_STATUSES, "finished")),
        sa.or_(c.source_compute == host, c.dest_compute == host),
    )
    return context.session.execute(query.order_by(c.id)).all()


@db_api.context_manager.reader
def _get_by_instance(context, instance_uuid):
    query = sa.select(_TABLE).where(
        _TABLE.c.deleted == 0, _TABLE.c.instance_uuid == instance_uuid
    )
    return context.session.execute(query.order_by(_TABLE.c.id)).all()


@db_api.context_manager.writer
def _create(context, values):
    now = timeutils.utcnow()
    result = context.session.execute(
        sa.insert(_TABLE).values(created_at=now, deleted=0, **values)
    )
    return result.inserted_primary_key[0], now


@db_api.context_manager.writer
def _update(context, migration_id, values):
    context.session.execute(
        sa.update(_TABLE)
        .where(_TABLE.c.id == migration_id)
        .values(updated_at=timeutils.utcnow(), **values)
    )


def _to_db(changes):
    values = dict(changes)
    for name in _FLAVOR_COLUMNS:
        if name in values:
            flavor = values[name]
            values[name] = None if flavor is None else base.to_json(flavor)
    return values


@base.PmemtrackObjectRegistry.register
class Migration(base.PmemtrackObject):
    # 1.1: migration_type may be "evacuation".
    VERSION = "1.1"
    fields = {
        "id": fields.IntegerField(read_only=True),
        "uuid": fields.UUIDField(),
        "instance_uuid": fields.UUIDField(),
        "source_compute": fields.StringField(nullable=True),
        "source_node": fields.StringField(nullable=True),
        "dest_compute": fields.StringField(nullable=True),
        "dest_node": fields.StringField(nullable=True),
        # Address of the destination used by the data mover.
        "dest_host": fields.StringField(nullable=True, default=None),
        "migration_type": fields.MigrationTypeField(),
        "status": fields.StringField(),
        "old_flavor": fields.ObjectField("Flavor", nullable=True, default=None),
        "new_flavor": fields.ObjectField("Flavor", nullable=True, default=None),
        "copy_pmem_devices": fields.BooleanField(default=False),
        "created_at": fields.DateTimeField(nullable=True),
        "updated_at": fields.DateTimeField(nullable=True),
    }

    @property
    def is_same_host(self):
        return (self.source_compute, self.source_node) == (
            self.dest_compute,
            self.dest_node,
        )

    @classmethod
    def _from_db(cls, context, row):
        migration = base.load_row(cls(context), row, _COLUMNS)
        for name in _FLAVOR_COLUMNS:
            blob = getattr(row, name)
            flavor = None
            if blob is not None:
                flavor = base.from_json(
                    flavor_obj.Flavor, blob, row.instance_uuid, f"migrations.{name}"
                )
            setattr(migration, name, flavor)
        migration.obj_reset_changes(_FLAVOR_COLUMNS, recursive=True)
        return migration

    @classmethod
    def get_by_uuid(cls, context, uuid):
        return cls._from_db(context, _get_one(context, uuid=uuid))

    @classmethod
    def get_by_id(cls, context, migration_id):
        return cls._from_db(context, _get_one(context, id=migration_id))

    def create(self):
        if self.obj_attr_is_set("id"):
            raise exception.ObjectActionError(action="create", reason="already created")
        if not self.obj_attr_is_set("uuid"):
            self.uuid = uuidutils.generate_uuid()
        if not self.obj_attr_is_set("copy_pmem_devices"):
            self.copy_pmem_devices = False
        self.id, self.created_at = _create(
            self._context, _to_db(self.obj_get_changes())
        )
        self.obj_reset_changes(recursive=True)

    def touch(self):
        """Record that the move's owner is alive (a heartbeat)."""
        _update(self._context, self.id, {})

    def compare_and_set_status(self, expected, status):
        """Set ``status`` only if the stored one is ``expected``; whether it
        was set. Two hosts recovering one move: only one takes it."""
        done = _set_status_if(self._context, self.id, expected, status)
        if done:
            self.status = status
            self.obj_reset_changes(["status"])
        return done

    def save(self):
        changes = self.obj_get_changes()
        changes.pop("id", None)
        if changes:
            _update(self._context, self.id, _to_db(changes))
        self.obj_reset_changes(recursive=True)


@db_api.context_manager.writer
def _set_status_if(context, migration_id, expected, status):
    # UPDATE migrations SET status = :status WHERE id = :id AND status = :expected
    result = context.session.execute(
        sa.update(_TABLE)
        .where(_TABLE.c.id == migration_id, _TABLE.c.status == expected)
        .values(status=status, updated_at=timeutils.utcnow())
    )
    return result.rowcount == 1


@base.PmemtrackObjectRegistry.register
class MigrationList(base.ObjectListBase, base.PmemtrackObject):
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("Migration")}

    @classmethod
    def _wrap(cls, context, rows):
        return cls(context, objects=[Migration._from_db(context, r) for r in rows])

    @classmethod
    def get_in_progress_by_host_and_node(cls, context, host, node):
        return cls._wrap(context, _get_in_progress(context, host, node))

    @classmethod
    def get_in_flight(cls, context, host=None, before=None):
        """Moves with an owner at work (touching ``host``, if given; last
        updated before ``before``, if given)."""
        return cls._wrap(context, _get_in_flight(context, host, before))

    @classmethod
    def get_done_by_host(cls, context, host):
        """Moves into or out of ``host`` that are over (confirmed, reverted,
        failed, rolled back, evacuations done)."""
        return cls._wrap(context, _get_done_by_host(context, host))

    @classmethod
    def get_by_instance(cls, context, instance_uuid):
        return cls._wrap(context, _get_by_instance(context, instance_uuid))
