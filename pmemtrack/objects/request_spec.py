"""RequestSpec: the constraints an instance was scheduled with,
persisted per instance.

Persisted at boot so a resize or cold migration is placed under the same rules;
a resize updates the flavor (and with it the PMEM request) and saves it again.
"""

from oslo_db import exception as db_exc
from oslo_utils import timeutils
import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack.db import api as db_api
from pmemtrack.db import models
from pmemtrack.objects import base
from pmemtrack.objects import fields

_TABLE = models.RequestSpec.__table__


class PmemNumaPolicy(fields.fields.Enum):
    # All namespaces of an instance from one host NUMA node when one node can
    # satisfy the request, otherwise spread in a deterministic order.
    PREFER_SINGLE_NODE = "prefer-single-node"
    # Refuse the claim unless one host NUMA node can satisfy it.
    REQUIRE_SINGLE_NODE = "require-single-node"
    ALL = (PREFER_SINGLE_NODE, REQUIRE_SINGLE_NODE)

    def __init__(self):
        super().__init__(valid_values=self.ALL)


class PmemNumaPolicyField(fields.fields.BaseEnumField):
    AUTO_TYPE = PmemNumaPolicy()


@db_api.context_manager.reader
def _get(context, instance_uuid):
    query = sa.select(_TABLE.c.spec).where(_TABLE.c.instance_uuid == instance_uuid)
    spec = context.session.execute(query).scalar()
    if spec is None:
        raise exception.RequestSpecNotFound(instance_uuid=instance_uuid)
    return spec


@db_api.context_manager.writer
def _upsert(context, instance_uuid, spec):
    now = timeutils.utcnow()
    updated = context.session.execute(
        sa.update(_TABLE)
        .where(_TABLE.c.instance_uuid == instance_uuid)
        .values(spec=spec, updated_at=now)
    )
    if updated.rowcount:
        return
    try:
        with context.session.begin_nested():
            context.session.execute(
                sa.insert(_TABLE).values(
                    instance_uuid=instance_uuid, spec=spec, created_at=now
                )
            )
    except db_exc.DBDuplicateEntry:
        # Another writer inserted it first; ours is the newer spec.
        _upsert(context, instance_uuid, spec)


@db_api.context_manager.writer
def _delete(context, instance_uuid):
    result = context.session.execute(
        sa.delete(_TABLE).where(_TABLE.c.instance_uuid == instance_uuid)
    )
    if not result.rowcount:
        raise exception.RequestSpecNotFound(instance_uuid=instance_uuid)


@base.PmemtrackObjectRegistry.register
class RequestSpec(base.PmemtrackObject):
    VERSION = "1.0"
    fields = {
        "instance_uuid": fields.UUIDField(),
        "project_id": fields.StringField(),
        "user_id": fields.StringField(),
        "flavor": fields.ObjectField("Flavor"),
        # One entry per requested namespace, normalised (see resource_class).
        "pmem_labels": fields.ListOfStringsField(default=[]),
        "pmem_numa_policy": PmemNumaPolicyField(
            default=PmemNumaPolicy.PREFER_SINGLE_NODE
        ),
        # Guest NUMA cells (hw:numa_nodes); nvdimms are placed on these cells.
        "numa_nodes": fields.IntegerField(nullable=True, default=None),
        "availability_zone": fields.StringField(nullable=True, default=None),
        "force_hosts": fields.ListOfStringsField(default=[]),
        "ignore_hosts": fields.ListOfStringsField(default=[]),
        "scheduler_hints": fields.DictOfListOfStringsField(default={}),
    }

    @classmethod
    def get_by_instance_uuid(cls, context, instance_uuid):
        blob = _get(context, instance_uuid)
        try:
            spec = base.from_json(cls, blob, instance_uuid, "request_specs.spec")
        except exception.CorruptedBlob as err:
            raise exception.CorruptedRequestSpec(
                instance_uuid=instance_uuid, reason=err.kwargs["reason"]
            )
        spec._context = context
        spec.obj_reset_changes(recursive=True)
        return spec

    def save(self):
        """Store the spec, replacing any earlier one of the same instance."""
        self.obj_set_defaults()
        _upsert(self._context, self.instance_uuid, base.to_json(self))
        self.obj_reset_changes(recursive=True)

    def destroy(self):
        _delete(self._context, self.instance_uuid)
