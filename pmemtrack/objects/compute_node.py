"""ComputeNode: a hypervisor node and the generation that guards its claims."""

from oslo_db import exception as db_exc
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack.db import api as db_api
from pmemtrack.db import models
from pmemtrack.objects import base
from pmemtrack.objects import fields

_FIELDS = (
    "id",
    "uuid",
    "host",
    "hypervisor_hostname",
    "generation",
    "service_version",
    "migration_address",
    "created_at",
    "updated_at",
)


@db_api.context_manager.reader
def _get_one(context, **filters):
    row = (
        context.session.query(models.ComputeNode)
        .filter_by(deleted=0, **filters)
        .first()
    )
    if row is None:
        raise exception.ComputeNodeNotFound(node=filters)
    return row


@db_api.context_manager.reader
def _get_all(context, host=None):
    query = context.session.query(models.ComputeNode).filter_by(deleted=0)
    if host is not None:
        query = query.filter_by(host=host)
    return query.order_by(models.ComputeNode.host, models.ComputeNode.id).all()


@db_api.context_manager.writer
def _create(context, values):
    row = models.ComputeNode(**values)
    try:
        context.session.add(row)
        context.session.flush()
    except db_exc.DBDuplicateEntry:
        raise exception.ComputeNodeExists(
            host=values["host"], node=values["hypervisor_hostname"]
        )
    return row


@db_api.context_manager.writer
def _update(context, node_id, values):
    values = dict(values, updated_at=timeutils.utcnow())
    table = models.ComputeNode.__table__
    context.session.execute(
        sa.update(table).where(table.c.id == node_id).values(**values)
    )


@db_api.context_manager.writer
def _soft_delete(context, node_id):
    table = models.ComputeNode.__table__
    context.session.execute(
        sa.update(table)
        .where(table.c.id == node_id)
        .values(deleted=node_id, deleted_at=timeutils.utcnow())
    )


@base.PmemtrackObjectRegistry.register
class ComputeNode(base.PmemtrackObject):
    VERSION = "1.0"
    fields = {
        "id": fields.IntegerField(read_only=True),
        "uuid": fields.UUIDField(),
        "host": fields.StringField(),
        "hypervisor_hostname": fields.StringField(),
        # Changed only by the claim transaction's compare-and-update.
        "generation": fields.IntegerField(default=0),
        "service_version": fields.IntegerField(default=0),
        "migration_address": fields.StringField(nullable=True, default=None),
        "created_at": fields.DateTimeField(nullable=True),
        "updated_at": fields.DateTimeField(nullable=True),
    }

    @classmethod
    def _from_db(cls, context, row):
        return base.load_row(cls(context), row, _FIELDS)

    @classmethod
    def get_by_uuid(cls, context, uuid):
        return cls._from_db(context, _get_one(context, uuid=uuid))

    @classmethod
    def get_by_id(cls, context, node_id):
        return cls._from_db(context, _get_one(context, id=node_id))

    @classmethod
    def get_by_host_and_nodename(cls, context, host, nodename):
        row = _get_one(context, host=host, hypervisor_hostname=nodename)
        return cls._from_db(context, row)

    def create(self):
        if self.obj_attr_is_set("id"):
            raise exception.ObjectActionError(action="create", reason="already created")
        values = self.obj_get_changes()
        values.setdefault("uuid", uuidutils.generate_uuid())
        values.setdefault("generation", 0)
        values.setdefault("service_version", 0)
        base.load_row(self, _create(self._context, values), _FIELDS)

    def save(self):
        changes = self.obj_get_changes()
        if "generation" in changes:
            raise exception.ObjectActionError(
                action="save",
                reason="the generation changes only inside a claim transaction",
            )
        if changes:
            _update(self._context, self.id, changes)
        self.obj_reset_changes()

    def destroy(self):
        _soft_delete(self._context, self.id)


@base.PmemtrackObjectRegistry.register
class ComputeNodeList(base.ObjectListBase, base.PmemtrackObject):
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("ComputeNode")}

    @classmethod
    def get_all(cls, context, host=None):
        nodes = [ComputeNode._from_db(context, r) for r in _get_all(context, host)]
        return cls(context, objects=nodes)
