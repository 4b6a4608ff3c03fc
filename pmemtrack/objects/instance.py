"""Instance: a guest, and the PMEM blobs it holds in ``instance_extra``.

The blobs (flavor, resources, migration_context) are loaded only when asked for,
through ``expected_attrs`` or on first access. This module is the only writer
of ``instances`` and ``instance_extra``: Nova-style ``save()`` for the API and
the manager, and the writes of claims and releases (``place``, the moves),
which run inside the tracker's transaction.
"""

from oslo_utils import timeutils
import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack.db import api as db_api
from pmemtrack.db import models
from pmemtrack.objects import base
from pmemtrack.objects import fields
from pmemtrack.objects import instance_extra
from pmemtrack.objects import migration_context as mc_obj

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
_INSTANCES = models.Instance.__table__
_EXTRA = models.InstanceExtra.__table__
_MIGRATIONS = models.Migration.__table__


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
def _soft_delete(context, uuid):
    # UPDATE instances SET deleted = id, deleted_at = :now
    #  WHERE uuid = :uuid AND deleted = 0      (and the same on instance_extra)
    now = timeutils.utcnow()
    result = context.session.execute(
        sa.update(_INSTANCES)
        .where(_INSTANCES.c.uuid == uuid, _INSTANCES.c.deleted == 0)
        .values(deleted=_INSTANCES.c.id, deleted_at=now)
    )
    if result.rowcount != 1:
        raise exception.InstanceNotFound(instance_uuid=uuid)
    context.session.execute(
        sa.update(_EXTRA)
        .where(_EXTRA.c.instance_uuid == uuid)
        .values(deleted=_EXTRA.c.id, deleted_at=now)
    )


def _with_marker(values, extra_values):
    holds = instance_extra.holds_resources_after(extra_values)
    return values if holds is None else dict(values, holds_resources=holds)


def _split_changes(changes):
    """Instance columns, and instance_extra columns serialised to JSON."""
    values = {k: v for k, v in changes.items() if k not in instance_extra.CLASSES}
    return values, instance_extra.encode(changes)


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
            _MIGRATIONS.c.source_compute, _MIGRATIONS.c.source_node,
            _MIGRATIONS.c.dest_compute, _MIGRATIONS.c.dest_node,
            _INSTANCES.c.host, _INSTANCES.c.node,
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


def _move_in_progress(context, instance_uuid):
    move = instance_extra.read(context, instance_uuid, "migration_context")
    if move is None:
        raise exception.InvalidClaim(
            action="finish a move",
            instance_uuid=instance_uuid,
            reason="it has no move in progress (no migration_context)",
        )
    return move


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
            blob = getattr(row, name)
            setattr(instance, name, instance_extra.decode(row.uuid, name, blob))
        # Recursive: a blob's JSON carries the change marks its writer left
        # (Nova's too), and a pending change in a nested object would make the
        # next save() write the blob back, stale, even one that only takes
        # the task_state.
        instance.obj_reset_changes(extra_attrs, recursive=True)
        return instance

    @classmethod
    def get_by_uuid(cls, context, uuid, expected_attrs=()):
        extra_attrs = _checked_extra(expected_attrs)
        return cls._from_db(
            context, _get_by_uuid(context, uuid, extra_attrs), extra_attrs
        )

    def refresh(self):
        """Read every column and every loaded blob again from the DB."""
        loaded = tuple(n for n in instance_extra.CLASSES if self.obj_attr_is_set(n))
        fresh = type(self).get_by_uuid(self._context, self.uuid, loaded)
        for name in (*INSTANCE_COLUMNS, *loaded):
            setattr(self, name, getattr(fresh, name))
        self.obj_reset_changes(recursive=True)

    @classmethod
    def get_deleted_by_uuid(cls, context, uuid):
        """A deleted instance (no blobs); InstanceNotFound if it is not one."""
        return cls._from_db(context, _get_by_uuid(context, uuid, (), True), ())

    def obj_load_attr(self, attrname):
        if attrname not in instance_extra.CLASSES:
            raise exception.ObjectActionError(
                action="obj_load_attr",
                reason=f"attribute {attrname} is not lazy-loadable",
            )
        blob = _get_extra(self._context, self.uuid, attrname)
        setattr(self, attrname, instance_extra.decode(self.uuid, attrname, blob))
        self.obj_reset_changes([attrname], recursive=True)

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

    def destroy(self, context=None):
        """Soft-delete the instance, in the caller's transaction on
        ``context`` if given; InstanceNotFound if it is already gone."""
        _soft_delete(context or self._context, self.uuid)

    # -- what claims and releases write ----------------------------------------
    # Each runs in the caller's transaction on ``context`` (or in its own) and
    # shows on this object only once that transaction commits: an attempt
    # that lost a race and is retried afresh, or rolled back, leaves the
    # object as it was.

    def place(self, context, host, node, resources):
        """On ``host``/``node`` holding ``resources`` (None: nowhere, nothing)."""
        self._write_holding(
            context, {"host": host, "node": node}, {"resources": resources}
        )

    def start_move(self, context, migration, dest, resources):
        """A move through ``migration`` to ``dest`` (a ComputeNode), which
        claimed ``resources`` there; the instance keeps what it holds until
        the move is confirmed or reverted."""
        with db_api.context_manager.writer.using(context):
            _check_move_nodes(context, self.uuid, migration.id, dest)
            if instance_extra.read(context, self.uuid, "migration_context"):
                raise exception.InvalidClaim(
                    action="claim a move",
                    instance_uuid=self.uuid,
                    reason="another move is in progress; confirm or revert it first",
                )
            current = instance_extra.read(context, self.uuid, "resources")
            move = mc_obj.new(self.uuid, migration.id, current, resources)
            self._write_holding(context, {}, {"migration_context": move})

    def land_move(self, context, migration):
        """The move's guest runs at its destination, on the new namespaces;
        the old ones stay held (migration_context) until confirm or revert."""
        with db_api.context_manager.writer.using(context):
            move = _move_in_progress(context, self.uuid)
            self._write_holding(
                context,
                {"host": migration.dest_compute, "node": migration.dest_node},
                {"resources": move.new_resources},
            )

    def finish_move(self, context, keep, migration):
        """Confirm (keep='new') or revert (keep='old') the move in progress:
        the instance is placed on that side, holding that side only."""
        with db_api.context_manager.writer.using(context):
            move = _move_in_progress(context, self.uuid)
            if keep == "new":
                host, node = migration.dest_compute, migration.dest_node
                resources = move.new_resources
            else:
                host, node = migration.source_compute, migration.source_node
                resources = move.old_resources
            self._write_holding(
                context,
                {"host": host, "node": node},
                {"resources": resources, "migration_context": None},
            )

    def _write_holding(self, context, values, blobs):
        with db_api.context_manager.writer.using(context):
            _update(context, self.uuid, values, instance_extra.encode(blobs))
            written = dict(values, **blobs)
            base.on_commit(context, lambda: self._show(written))

    def _show(self, written):
        for name, value in written.items():
            setattr(self, name, value)
        self.obj_reset_changes(list(written), recursive=True)


def _checked_extra(expected_attrs):
    unknown = set(expected_attrs) - set(instance_extra.CLASSES)
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
