"""The node's namespaces in the unified resources table, as every claim reads
them (node_view) and as the periodic pass hands the driver's report to
HostResourceList.sync_namespaces, the rows' one writer."""

import functools

from oslo_serialization import jsonutils
import sqlalchemy as sa

from pmemtrack.db import models
from pmemtrack.objects import host_resource
from pmemtrack.resource_tracker import selection

_RESOURCES = models.HostResource.__table__


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


def offered(discovered):
    """The driver's namespaces as the rows HostResourceList.sync_namespaces
    keeps: identifier -> resource_class, locator, metadata."""
    return {
        found.name: {
            "resource_class": found.resource_class,
            "locator": found.devpath,
            "metadata": found.metadata(),
        }
        for found in discovered
    }
