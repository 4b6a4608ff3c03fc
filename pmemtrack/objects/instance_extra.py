"""The blobs of ``instance_extra``: the one place their JSON is decoded.

Every reader of a blob (the Instance object, the claim's holder rows, the
listing and the audit) decodes it here, so a blob that is not the JSON of the
right object is a CorruptedBlob, whoever reads it: a namespace is never taken
as free because its holder's row is unreadable.
"""

import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack.db import models
from pmemtrack.objects import base
from pmemtrack.objects import flavor as flavor_obj
from pmemtrack.objects import migration_context as mc_obj
from pmemtrack.objects import resource as resource_obj

# Blob column -> the class its JSON holds.
CLASSES = {
    "flavor": flavor_obj.Flavor,
    "resources": resource_obj.ResourceList,
    "migration_context": mc_obj.MigrationContext,
}
# The blobs that name namespaces.
_HOLDING = ("resources", "migration_context")

_INSTANCES = models.Instance.__table__
_EXTRA = models.InstanceExtra.__table__


def decode(instance_uuid, column, blob):
    """The object held in one instance_extra column; None only for SQL NULL."""
    if blob is None:
        return None
    return base.from_json(
        CLASSES[column], blob, instance_uuid, f"instance_extra.{column}"
    )


def encode(changes):
    """{column: JSON text, or None for SQL NULL} of the blob objects in
    ``changes``; other keys are left out."""
    return {
        column: None if changes[column] is None else base.to_json(changes[column])
        for column in CLASSES
        if column in changes
    }


def holds_resources_after(blobs):
    """What a write of ``blobs`` (column -> value, None for SQL NULL) makes
    instances.holds_resources: True when it sets a holding blob, False when it
    clears both, None (leave it) otherwise. Every write of those blobs sets it
    in the same transaction, so a claim that reads only the marked instances
    misses no holder."""
    written = [blobs[name] for name in _HOLDING if name in blobs]
    if any(value is not None for value in written):
        return True
    if len(written) == len(_HOLDING):
        return False
    return None


def read(context, instance_uuid, column):
    """One blob of a live instance, decoded, read in the caller's transaction;
    InstanceNotFound if the instance is gone."""
    # SELECT e.<column> FROM instance_extra e
    #   JOIN instances i ON i.uuid = e.instance_uuid
    #  WHERE e.instance_uuid = :uuid AND i.deleted = 0
    query = (
        sa.select(_EXTRA.c[column])
        .join(_INSTANCES, _INSTANCES.c.uuid == _EXTRA.c.instance_uuid)
        .where(_EXTRA.c.instance_uuid == instance_uuid, _INSTANCES.c.deleted == 0)
    )
    row = context.session.execute(query).first()
    if row is None:
        raise exception.InstanceNotFound(instance_uuid=instance_uuid)
    return decode(instance_uuid, column, row[0])
