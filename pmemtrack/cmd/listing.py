"""pmemtrack-manage host list and pmem list: the database's view of the hosts
and their namespaces, with what the hypervisor says where it can be asked.

Whether a namespace is free is never stored; it is computed here the way a
claim computes it: from the rows' states and the live instances' assignments.
"""

from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.objects import fields
from pmemtrack.resource_tracker import node_view
from pmemtrack.resource_tracker import selection
from pmemtrack.virt.libvirt import config

HOST_COLUMNS = (
    "Host",
    "Node",
    "UUID",
    "Generation",
    "Service version",
    "Migration address",
)
PMEM_COLUMNS = (
    "Host",
    "Name",
    "Label",
    "Bytes",
    "Size",
    "NUMA node",
    "Device",
    "State",
    "Instance",
    "Role",
    "Guest",
)
FREE, HELD, MOVING, ORPHANED = "free", "held", "moving", "orphaned"
UNAVAILABLE = fields.HostResourceState.UNAVAILABLE
DIRTY = fields.HostResourceState.DIRTY
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(size):
    """1024-based and without a space (64MiB, 1.5GiB), so that a ``value``
    row still splits into its columns on whitespace."""
    value, unit = float(size), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    number = f"{value:.0f}" if value == int(value) else f"{value:.1f}"
    return f"{number}{_UNITS[unit]}"


def host_rows(context):
    return [
        (
            node.host,
            node.hypervisor_hostname,
            node.uuid,
            node.generation,
            node.service_version,
            node.migration_address,
        )
        for node in objects.ComputeNodeList.get_all(context)
    ]


def compute_nodes(context, host=None):
    """The compute nodes of ``host`` (all when None); an unknown host is an
    error naming the known ones, not an empty list that looks like no PMEM."""
    nodes = objects.ComputeNodeList.get_all(context, host).objects
    if host is not None and not nodes:
        known = sorted({n.host for n in objects.ComputeNodeList.get_all(context)})
        raise exception.ComputeHostNotFound(host=host, known=", ".join(known) or "none")
    return nodes


def guests_on(manager):
    """{device path: [(domain name, domain uuid), ...]} of the nvdimms of every
    guest the host's hypervisor knows, running or only defined."""
    host = manager.driver.host
    try:
        users = {}
        for domain in host.domains():
            for path in config.nvdimm_paths(domain.XMLDesc(0)):
                users.setdefault(path, []).append((domain.name(), domain.UUIDString()))
    except host.libvirt.libvirtError as err:
        raise exception.HypervisorUnavailable(uri=host.uri, reason=err)
    return users


def _state(namespace, holder, guests):
    # A stored state says more than any computed one: a dirty namespace is
    # never handed out, an unavailable one is gone from the host.
    if namespace.state in (DIRTY, UNAVAILABLE):
        return namespace.state
    if holder is not None:
        return HELD if holder[1] == "instance" else MOVING
    return ORPHANED if guests else FREE


def _row(node, namespace, holder, guests):
    instance, role = holder or (None, None)
    return (
        node.host,
        namespace.name,
        namespace.label,
        namespace.size,
        human_size(namespace.size),
        namespace.numa_node,
        namespace.devpath,
        _state(namespace, holder, guests),
        instance,
        role,
        ",".join(name for name, _ in guests) or None,
    )


def pmem_rows(context, node, guests=None):
    """One row per namespace of ``node``. ``guests`` (see guests_on) is what
    the node's hypervisor runs; None when it cannot be asked, and then no
    namespace can be found orphaned."""
    view = node_view.read(context, node)
    rows = [
        _row(node, ns, view.held.get(ns.name), (guests or {}).get(ns.devpath, []))
        for ns in view.namespaces
    ]
    return sorted(rows, key=lambda row: selection.natural_key(row[1]))
