"""Instance: a guest, and the PMEM blobs it holds in ``instance_extra``.

The blobs (flavor, resources, migration_context) are loaded only when asked for,
through ``expected_attrs`` or on first access.
"""

from oslo_utils import timeutils
import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack.db import api as db_api
from pmemtrack.db import models
from pmemtrack.objects import base
from pmemtrack.objects import fields
from pmemtrack.objects import flavor as flavor_obj
from pmemtrack.objects import migration_context as mc_obj
from pmemtrack.objects import resource as resource_obj

INSTANCE_COLUMNS = (
    "id",
    "uuid",
    "display_name",
    "project_id",
    "user_id",
    "host",
    "node",
    "vm_state",
    "task_state",
    "power_state",
    "created_at",
    "updated_at",
)
# Blob attribute -> the class its JSON holds.
EXTRA_CLASSES = {
    "flavor": flavor_obj.Flavor,
    "resources": resource_obj.ResourceList,
    "migration_context": mc_obj.MigrationContext,
}

_INSTANCES = models.Instance.__table__
_EXTRA = models.InstanceExtra.__table__


def decode_extra(instance_uuid, name, blob):
    """The object held in one instance_extra column; None only for SQL NULL."""
    if blob is None:
        return None
    return base.from_json(
        EXTRA_CLASSES[name], blob, instance_uuid, f"instance_extra.{name}"
    )


def _select(extra_attrs):
    extra_columns = [_EXTRA.c[name] for name in extra_attrs]
    joined = _INSTANCES.outerjoin(_EXTRA, _EXTRA.c.instance_uuid == _INSTANCES.c.uuid)
    return sa.select(_INSTANCES, *extra_columns).select_from(joined)


@db_api.context_manager.reader
def _get_by_uuid(context, uuid, extra_attrs, deleted=False):
    alive = _INSTANCES.c.deleted != 0 if deleted else _INSTANCES.c.deleted == 0
    query = _select(extra_attrs).where(_INSTANCES.c.uuid == uuid, alive)
    row = context.session.execute(query).first()
    if row is None:
        raise exception.InstanceNotFound(instance_uuid=uuid)
    return row


@db_api.context_manager.reader
def _get_all(context, extra_attrs, **filters):
    query = _select(extra_attrs).where(_INSTANCES.c.deleted == 0)
    for column, value in filters.items():
        query = query.where(_INSTANCES.c[column] == value)
    return context.session.execute(query.order_by(_INSTANCES.c.id)).all()


@db_api.context_manager.reader
def _get_extra(context, uuid, name):
    query = sa.select(_EXTRA.c[name]).where(_EXTRA.c.instance_uuid == uuid)
    return context.session.execute(query).scalar()


@db_api.context_manager.writer
def _create(context, values, extra_values):
    now = timeutils.utcnow()
    values = _with_marker(values, extra_values)
    result = context.session.execute(
        sa.insert(_INSTANCES).values(created_at=now, deleted=0, **values)
    )
    context.session.execute(
        sa.insert(_EXTRA).values(
            created_at=now, deleted=0, instance_uuid=values["uuid"], **extra_values
        )
    )
    return result.inserted_primary_key[0], now


def _task_state_is(expected):
    """WHERE task_state IN (:expected), None meaning SQL NULL."""
    states = [state for state in expected if state is not None]
    matches = [_INSTANCES.c.task_state.in_(states)] if states else []
    if None in expected:
        matches.append(_INSTANCES.c.task_state.is_(None))
    return sa.or_(*matches)


@db_api.context_manager.writer
def _update(context, uuid, values, extra_values, expected_task_state=None):
    now = timeutils.utcnow()
    values = _with_marker(values, extra_values)
    if values or expected_task_state is not None:
        # UPDATE instances SET ... WHERE uuid = :uuid AND deleted = 0
        #   [AND task_state IN (:expected)]   -- Nova's expected_task_state
        query = sa.update(_INSTANCES).where(
            _INSTANCES.c.uuid == uuid, _INSTANCES.c.deleted == 0
        )
        if expected_task_state is not None:
            query = query.where(_task_state_is(expected_task_state))
        result = context.session.execute(query.values(updated_at=now, **values))
        if result.rowcount != 1:
            _explain_no_update(context, uuid, expected_task_state)
    if extra_values:
        context.session.execute(
            sa.update(_EXTRA)
            .where(_EXTRA.c.instance_uuid == uuid)
            .values(updated_at=now, **extra_values)
        )


def _explain_no_update(context, uuid, expected_task_state):
    row = context.session.execute(
        sa.select(_INSTANCES.c.task_state).where(
            _INSTANCES.c.uuid == uuid, _INSTANCES.c.deleted == 0
        )
    ).first()
    if row is None:
        raise exception.InstanceNotFound(instance_uuid=uuid)
    raise exception.UnexpectedTaskStateError(
        instance_uuid=uuid,
        expected=", ".join(str(state) for state in expected_task_state),
        actual=row.task_state,
    )


@db_api.context_manager.writer
def _soft_delete(context, instance_id, uuid):
    now = timeutils.utcnow()
    context.session.execute(
        sa.update(_INSTANCES)
        .where(_INSTANCES.c.id == instance_id)
        .values(deleted=instance_id, deleted_at=now)
    )
    context.session.execute(
        sa.update(_EXTRA)
        .where(_EXTRA.c.instance_uuid == uuid)
        .values(deleted=instance_id, deleted_at=now)
    )


_HOLDING_BLOBS = ("resources", "migration_context")


def holds_resources_after(blobs):
    """What a write of ``blobs`` (column -> value, None for SQL NULL) makes
    instances.holds_resources: True when it sets a holding blob, False when it
    clears both, None (leave it) otherwise. Every writer of those blobs sets
    it in the same transaction, so a claim that reads only the marked
    instances misses no holder."""
    written = [blobs[name] for name in _HOLDING_BLOBS if name in blobs]
    if any(value is not None for value in written):
        return True
    if len(written) == len(_HOLDING_BLOBS):
        return False
    return None


def _with_marker(values, extra_values):
    holds = holds_resources_after(extra_values)
    return values if holds is None else dict(values, holds_resources=holds)


def _split_changes(changes):
    """Instance columns, and instance_extra columns serialised to JSON."""
    values = {k: v for k, v in changes.items() if k not in EXTRA_CLASSES}
    extra = {
        name: None if changes[name] is None else base.to_json(changes[name])
        for name in EXTRA_CLASSES
        if name in changes
    }
    return values, extra


@base.PmemtrackObjectRegistry.register
class Instance(base.PmemtrackObject):
    VERSION = "1.0"
    fields = {
        "id": fields.IntegerField(read_only=True),
        "uuid": fields.UUIDField(),
        "display_name": fields.StringField(nullable=True, default=None),
        "project_id": fields.StringField(),
        "user_id": fields.StringField(),
        "host": fields.StringField(nullable=True, default=None),
        "node": fields.StringField(nullable=True, default=None),
        "vm_state": fields.StringField(nullable=True, default=None),
        "task_state": fields.StringField(nullable=True, default=None),
        "power_state": fields.IntegerField(nullable=True, default=None),
        "flavor": fields.ObjectField("Flavor", nullable=True),
        "resources": fields.ObjectField("ResourceList", nullable=True),
        "migration_context": fields.ObjectField("MigrationContext", nullable=True),
        "created_at": fields.DateTimeField(nullable=True),
        "updated_at": fields.DateTimeField(nullable=True),
    }

    @classmethod
    def _from_db(cls, context, row, extra_attrs):
        instance = base.load_row(cls(context), row, INSTANCE_COLUMNS)
        for name in extra_attrs:
            setattr(instance, name, decode_extra(row.uuid, name, getattr(row, name)))
        instance.obj_reset_changes(extra_attrs)
        return instance

    @classmethod
    def get_by_uuid(cls, context, uuid, expected_attrs=()):
        extra_attrs = _checked_extra(expected_attrs)
        return cls._from_db(
            context, _get_by_uuid(context, uuid, extra_attrs), extra_attrs
        )

    def refresh(self):
        """Read every column and every loaded blob again from the DB."""
        loaded = tuple(name for name in EXTRA_CLASSES if self.obj_attr_is_set(name))
        fresh = type(self).get_by_uuid(self._context, self.uuid, loaded)
        for name in (*INSTANCE_COLUMNS, *loaded):
            setattr(self, name, getattr(fresh, name))
        self.obj_reset_changes(recursive=True)

    @classmethod
    def get_deleted_by_uuid(cls, context, uuid):
        """A deleted instance (no blobs); InstanceNotFound if it is not one."""
        return cls._from_db(context, _get_by_uuid(context, uuid, (), True), ())

    def obj_load_attr(self, attrname):
        if attrname not in EXTRA_CLASSES:
            raise exception.ObjectActionError(
                action="obj_load_attr",
                reason=f"attribute {attrname} is not lazy-loadable",
            )
        blob = _get_extra(self._context, self.uuid, attrname)
        setattr(self, attrname, decode_extra(self.uuid, attrname, blob))
        self.obj_reset_changes([attrname])

    def create(self):
        if self.obj_attr_is_set("id"):
            raise exception.ObjectActionError(action="create", reason="already created")
        values, extra = _split_changes(self.obj_get_changes())
        for name in ("created_at", "updated_at"):
            values.pop(name, None)
        new_id, now = _create(self._context, values, extra)
        self.id = new_id
        self.created_at = now
        self.obj_reset_changes(recursive=True)

    def save(self, expected_task_state=None):
        """Write the changed fields. With ``expected_task_state`` (a state or
        a list of states, None meaning "no task") the write happens only if
        the stored task_state is one of them, else UnexpectedTaskStateError:
        how one lifecycle operation at a time takes an instance."""
        values, extra = _split_changes(self.obj_get_changes())
        values.pop("id", None)
        if expected_task_state is not None and not isinstance(
            expected_task_state, (list, tuple)
        ):
            expected_task_state = [expected_task_state]
        _update(self._context, self.uuid, values, extra, expected_task_state)
        self.obj_reset_changes(recursive=True)

    def destroy(self):
        _soft_delete(self._context, self.id, self.uuid)


def _checked_extra(expected_attrs):
    unknown = set(expected_attrs) - set(EXTRA_CLASSES)
    if unknown:
        raise exception.ObjectActionError(
            action="get", reason=f"unknown expected_attrs {sorted(unknown)}"
        )
    return tuple(expected_attrs)


@base.PmemtrackObjectRegistry.register
class InstanceList(base.ObjectListBase, base.PmemtrackObject):
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("Instance")}

    @classmethod
    def _get(cls, context, expected_attrs, **filters):
        extra_attrs = _checked_extra(expected_attrs)
        rows = _get_all(context, extra_attrs, **filters)
        objects = [Instance._from_db(context, row, extra_attrs) for row in rows]
        return cls(context, objects=objects)

    @classmethod
    def get_all(cls, context, expected_attrs=()):
        return cls._get(context, expected_attrs)

    @classmethod
    def get_by_host_and_node(cls, context, host, node, expected_attrs=()):
        return cls._get(context, expected_attrs, host=host, node=node)

    @classmethod
    def get_by_host(cls, context, host, expected_attrs=()):
        return cls._get(context, expected_attrs, host=host)

    @classmethod
    def get_by_project(cls, context, project_id, expected_attrs=()):
        return cls._get(context, expected_attrs, project_id=project_id)
