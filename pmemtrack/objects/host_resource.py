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


def _to_db(changes):
    values = dict(changes)
    if "metadata" in values:
        values["metadata"] = jsonutils.dumps(values["metadata"])
    return values


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
