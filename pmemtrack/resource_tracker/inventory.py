"""The node's namespaces in the unified resources table, kept current from the
driver's report by the periodic pass and read by every claim (node_view)."""

import functools

from oslo_log import log as logging
from oslo_serialization import jsonutils
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from pmemtrack.db import models
from pmemtrack.objects import fields
from pmemtrack.objects import host_resource
from pmemtrack.resource_tracker import selection

LOG = logging.getLogger(__name__)
_RESOURCES = models.HostResource.__table__
_STATE = fields.HostResourceState


@functools.lru_cache(maxsize=65536)
def _host_namespace(identifier, rc, locator, metadata_text, state):
    # Immutable, so one instance per distinct row can be shared by every claim.
    meta = jsonutils.loads(metadata_text) if metadata_text else {}
    return selection.HostNamespace(
        name=identifier,
        resource_class=rc,
        label=meta.get("label", ""),
        devpath=locator,
        size=meta.get("size", 0),
        align=meta.get("align", 0),
        numa_node=meta.get("numa_node"),
        state=state,
        uuid=meta.get("uuid"),
    )


def namespaces_select(tag=()):
    """The node's namespace rows (:node_id), after the ``tag`` columns."""
    # SELECT identifier, resource_class, locator, metadata, state FROM resources
    #  WHERE compute_node_id = :node_id AND resource_type = 'PMEM_NAMESPACE'
    columns = ("identifier", "resource_class", "locator", "metadata", "state")
    return sa.select(*tag, *(_RESOURCES.c[name] for name in columns)).where(
        _RESOURCES.c.compute_node_id == sa.bindparam("node_id"),
        _RESOURCES.c.resource_type == host_resource.PMEM_NAMESPACE,
    )


# The five columns a namespace row is read with (node_view reads them).
NAMESPACE_COLUMNS = 5


def namespace_of_row(row):
    """HostNamespace of (identifier, resource_class, locator, metadata, state)."""
    return _host_namespace(*row)


def _values(found):
    return {
        "resource_class": found.resource_class,
        "locator": found.devpath,
        "metadata": jsonutils.dumps(found.metadata(), sort_keys=True),
    }


def sync(context, compute_node_id, discovered, held):
    """Make the node's rows match the driver's report; return what changed.

    A namespace that vanished from the report but that an instance holds is kept
    as 'unavailable' (the claim stays valid and it is never handed out); one that
    nobody holds is removed. A 'dirty' namespace (failed wipe) stays dirty.
    """
    now = timeutils.utcnow()
    rows = {
        row.identifier: row
        for row in context.session.execute(
            sa.select(_RESOURCES).where(_RESOURCES.c.compute_node_id == compute_node_id)
        )
    }
    report = {
        "added": [],
        "updated": [],
        "removed": [],
        "unavailable": [],
        "kept_dirty": [],
    }
    for found in discovered:
        values = _values(found)
        row = rows.pop(found.name, None)
        if row is None:
            context.session.execute(
                sa.insert(_RESOURCES).values(
                    uuid=uuidutils.generate_uuid(),
                    compute_node_id=compute_node_id,
                    resource_type=host_resource.PMEM_NAMESPACE,
                    identifier=found.name,
                    state=_STATE.AVAILABLE,
                    created_at=now,
                    **values,
                )
            )
            report["added"].append(found.name)
            continue
        if row.state == _STATE.UNAVAILABLE:
            values["state"] = _STATE.AVAILABLE
        if any(getattr(row, key) != value for key, value in values.items()):
            context.session.execute(
                sa.update(_RESOURCES)
                .where(_RESOURCES.c.id == row.id)
                .values(updated_at=now, **values)
            )
            report["updated"].append(found.name)
    for name, row in rows.items():
        if name in held:
            if row.state != _STATE.UNAVAILABLE:
                context.session.execute(
                    sa.update(_RESOURCES)
                    .where(_RESOURCES.c.id == row.id)
                    .values(state=_STATE.UNAVAILABLE, updated_at=now)
                )
            LOG.warning(
                "Namespace %s is held by instance %s but is no longer offered by "
                "the driver ([pmem] namespaces or discovery); it stays assigned "
                "and is marked unavailable.",
                name,
                held[name][0],
            )
            report["unavailable"].append(name)
        elif row.state == _STATE.DIRTY:
            # Released but never wiped: were it removed, a namespace offered
            # again later would come back 'available' with a tenant's data.
            report["kept_dirty"].append(name)
        else:
            context.session.execute(
                sa.delete(_RESOURCES).where(_RESOURCES.c.id == row.id)
            )
            report["removed"].append(name)
    return report


def set_state(context, compute_node_id, names, state, only_from=None):
    """Set the state of the named rows (those in state ``only_from``, if
    given); the number of rows changed."""
    if not names:
        return 0
    query = sa.update(_RESOURCES).where(
        _RESOURCES.c.compute_node_id == compute_node_id,
        _RESOURCES.c.identifier.in_(names),
    )
    if only_from is not None:
        query = query.where(_RESOURCES.c.state == only_from)
    result = context.session.execute(
        query.values(state=state, updated_at=timeutils.utcnow())
    )
    return result.rowcount


def state_of(context, compute_node_id, name):
    """The state of one namespace row, or None if the node has no such row."""
    return context.session.execute(
        sa.select(_RESOURCES.c.state).where(
            _RESOURCES.c.compute_node_id == compute_node_id,
            _RESOURCES.c.identifier == name,
        )
    ).scalar()
