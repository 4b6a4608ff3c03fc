"""HostResource: one row of the unified table of host resources.

Each row says which compute node owns a resource, what class and type it is, how
the driver finds it again (locator) and its details (metadata). Whether a
namespace is free is never stored: the tracker computes it from the assignments.
"""

from oslo_db import exception as db_exc
from oslo_serialization import jsonutils
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack.db import api as db_api
from pmemtrack.db import models
from pmemtrack.objects import base
from pmemtrack.objects import fields

PMEM_NAMESPACE = "pmem_namespace"
_TABLE = models.HostResource.__table__
_STATE = fields.HostResourceState
_COLUMNS = (
    "id",
    "uuid",
    "compute_node_id",
    "resource_class",
    "resource_type",
    "identifier",
    "locator",
    "state",
    "created_at",
    "updated_at",
)


@db_api.context_manager.reader
def _get_all(context, **filters):
    query = sa.select(_TABLE)
    for column, value in filters.items():
        query = query.where(_TABLE.c[column] == value)
    return context.session.execute(query.order_by(_TABLE.c.identifier)).all()


@db_api.context_manager.writer
def _create(context, values):
    now = timeutils.utcnow()
    try:
        result = context.session.execute(
            sa.insert(_TABLE).values(created_at=now, **values)
        )
    except db_exc.DBDuplicateEntry:
        raise exception.HostResourceExists(
            compute_node=values["compute_node_id"], identifier=values["identifier"]
        )
    return result.inserted_primary_key[0], now


@db_api.context_manager.writer
def _update(context, resource_id, values):
    result = context.session.execute(
        sa.update(_TABLE)
        .where(_TABLE.c.id == resource_id)
        .values(updated_at=timeutils.utcnow(), **values)
    )
    if not result.rowcount:
        raise exception.HostResourceNotFound(resource=resource_id)


@db_api.context_manager.writer
def _delete(context, resource_id):
    context.session.execute(sa.delete(_TABLE).where(_TABLE.c.id == resource_id))


@db_api.context_manager.reader
def _state_of(context, compute_node_id, identifier):
    return context.session.execute(
        sa.select(_TABLE.c.state).where(
            _TABLE.c.compute_node_id == compute_node_id,
            _TABLE.c.identifier == identifier,
        )
    ).scalar()


@db_api.context_manager.writer
def _set_state(context, compute_node_id, identifiers, state, only_from):
    # UPDATE resources SET state = :state, updated_at = :now
    #  WHERE compute_node_id = :node AND identifier IN (:identifiers)
    #    [AND state = :only_from]
    query = sa.update(_TABLE).where(
        _TABLE.c.compute_node_id == compute_node_id,
        _TABLE.c.identifier.in_(identifiers),
    )
    if only_from is not None:
        query = query.where(_TABLE.c.state == only_from)
    result = context.session.execute(
        query.values(state=state, updated_at=timeutils.utcnow())
    )
    return result.rowcount


def _encode_metadata(metadata):
    # Sorted keys: a namespace reported again with the same details compares
    # equal to its row, so the periodic pass rewrites nothing.
    return jsonutils.dumps(metadata, sort_keys=True)


def _to_db(changes):
    values = dict(changes)
    if "metadata" in values:
        values["metadata"] = _encode_metadata(values["metadata"])
    return values


class _NamespaceSync:
    """One periodic pass over a node's namespace rows (see
    HostResourceList.sync_namespaces)."""

    def __init__(self, context, compute_node_id):
        self.context = context
        self.compute_node_id = compute_node_id
        self.now = timeutils.utcnow()
        self.report = {
            "added": [],
            "updated": [],
            "removed": [],
            "unavailable": [],
            "kept_dirty": [],
        }

    def rows(self):
        query = sa.select(_TABLE).where(
            _TABLE.c.compute_node_id == self.compute_node_id,
            _TABLE.c.resource_type == PMEM_NAMESPACE,
        )
        return {row.identifier: row for row in self.context.session.execute(query)}

    def offered(self, identifier, row, values):
        values = dict(values, metadata=_encode_metadata(values["metadata"]))
        if row is None:
            self.context.session.execute(
                sa.insert(_TABLE).values(
                    uuid=uuidutils.generate_uuid(),
                    compute_node_id=self.compute_node_id,
                    resource_type=PMEM_NAMESPACE,
                    identifier=identifier,
                    state=_STATE.AVAILABLE,
                    created_at=self.now,
                    **values,
                )
            )
            self.report["added"].append(identifier)
            return
        if row.state == _STATE.UNAVAILABLE:
            values["state"] = _STATE.AVAILABLE
        if any(getattr(row, key) != value for key, value in values.items()):
            self._update(row, values)
            self.report["updated"].append(identifier)

    def gone(self, identifier, row, held):
        if held:
            if row.state != _STATE.UNAVAILABLE:
                self._update(row, {"state": _STATE.UNAVAILABLE})
            self.report["unavailable"].append(identifier)
        elif row.state == _STATE.DIRTY:
            # Released but never wiped: were it removed, a namespace offered
            # again later would come back 'available' with a tenant's data.
            self.report["kept_dirty"].append(identifier)
        else:
            self.context.session.execute(sa.delete(_TABLE).where(_TABLE.c.id == row.id))
            self.report["removed"].append(identifier)

    def _update(self, row, values):
        self.context.session.execute(
            sa.update(_TABLE)
            .where(_TABLE.c.id == row.id)
            .values(updated_at=self.now, **values)
        )


@db_api.context_manager.writer
def _sync_namespaces(context, compute_node_id, offered, held):
    sync = _NamespaceSync(context, compute_node_id)
    rows = sync.rows()
    for identifier, values in offered.items():
        sync.offered(identifier, rows.pop(identifier, None), values)
    for identifier, row in rows.items():
        sync.gone(identifier, row, identifier in held)
    return sync.report


@base.PmemtrackObjectRegistry.register
class HostResource(base.PmemtrackObject):
    VERSION = "1.0"
    fields = {
        "id": fields.IntegerField(read_only=True),
        "uuid": fields.UUIDField(),
        "compute_node_id": fields.IntegerField(),
        "resource_class": fields.ResourceClassField(),
        "resource_type": fields.StringField(),
        # The namespace name: unique on its compute node.
        "identifier": fields.StringField(),
        # Where the driver finds it: device path, ndctl dev.
        "locator": fields.StringField(nullable=True, default=None),
        # size, align, numa_node, label, namespace uuid.
        "metadata": fields.JsonDictField(default={}),
        "state": fields.HostResourceStateField(
            default=fields.HostResourceState.AVAILABLE
        ),
        "created_at": fields.DateTimeField(nullable=True),
        "updated_at": fields.DateTimeField(nullable=True),
    }

    @classmethod
    def _from_db(cls, context, row):
        resource = base.load_row(cls(context), row, _COLUMNS)
        resource.metadata = jsonutils.loads(row.metadata) if row.metadata else {}
        resource.obj_reset_changes(["metadata"])
        return resource

    def create(self):
        if self.obj_attr_is_set("id"):
            raise exception.ObjectActionError(action="create", reason="already created")
        if not self.obj_attr_is_set("uuid"):
            self.uuid = uuidutils.generate_uuid()
        self.obj_set_defaults("metadata", "state", "locator")
        self.id, self.created_at = _create(
            self._context, _to_db(self.obj_get_changes())
        )
        self.obj_reset_changes()

    def save(self):
        changes = self.obj_get_changes()
        changes.pop("id", None)
        if changes:
            _update(self._context, self.id, _to_db(changes))
        self.obj_reset_changes()

    def destroy(self):
        _delete(self._context, self.id)

    @staticmethod
    def state_of(context, compute_node_id, identifier):
        """The state of one row, or None if the node has no such row."""
        return _state_of(context, compute_node_id, identifier)


@base.PmemtrackObjectRegistry.register
class HostResourceList(base.ObjectListBase, base.PmemtrackObject):
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("HostResource")}

    @classmethod
    def get_by_compute_node(cls, context, compute_node_id, resource_type=None):
        filters = {"compute_node_id": compute_node_id}
        if resource_type is not None:
            filters["resource_type"] = resource_type
        rows = _get_all(context, **filters)
        return cls(context, objects=[HostResource._from_db(context, r) for r in rows])

    @staticmethod
    def sync_namespaces(context, compute_node_id, offered, held):
        """Make the node's namespace rows match what its driver offers, in
        the caller's transaction; the identifiers that changed, by kind.

        ``offered`` maps each identifier to its resource_class, locator and
        metadata; ``held`` holds the identifiers an instance holds. A row
        no longer offered but held stays, 'unavailable' (the claim stays
        valid and it is never handed out); a dirty one stays dirty; any other
        is removed. An unavailable row offered again is available again.
        """
        return _sync_namespaces(context, compute_node_id, offered, held)

    @staticmethod
    def set_state(context, compute_node_id, identifiers, state, only_from=None):
        """Set the state of the node's named rows (only of those in state
        ``only_from``, if given), in the caller's transaction; the number of
        rows changed."""
        if not identifiers:
            return 0
        return _set_state(context, compute_node_id, identifiers, state, only_from)
