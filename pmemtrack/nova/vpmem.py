"""Namespaces in Nova's terms: discovery into ``LibvirtVPMEMDevice`` and the
nvdimm devices of a guest placed on the right NUMA cell at an aligned size.

Discovery and its validation are pmemtrack's own (``virt.libvirt.namespaces``),
shared with the standalone service; only the value types are Nova's here.
"""

import dataclasses
import os

from nova import exception as nova_exception
from nova import objects as nova_objects
from nova.virt.libvirt import config as vconfig
from oslo_log import log as logging

from pmemtrack import exception
from pmemtrack.virt.libvirt import config
from pmemtrack.virt.libvirt import namespaces

LOG = logging.getLogger(__name__)
KiB = 1024


def _numa_node_from_sysfs(found, sysfs_dir):
    """ndctl prints numa_node only with -v (Nova's privileged call lists
    without it); the kernel keeps it in the namespace's sysfs directory."""
    if found.numa_node is not None or not found.dev:
        return found
    path = os.path.join(sysfs_dir, "bus", "nd", "devices", found.dev, "numa_node")
    try:
        with open(path) as source:
            node = int(source.read().strip())
    except (OSError, ValueError):
        return found
    # The kernel says -1 when the platform gives no locality.
    return dataclasses.replace(found, numa_node=node) if node >= 0 else found


def discover(pmem_namespaces, ndctl_text, conf, daxctl_text=None):
    """The namespaces ``[libvirt] pmem_namespaces`` offers, validated against
    what ndctl (and daxctl) list: [DiscoveredNamespace] in config order.
    A wrong entry is Nova's PMEMNamespaceConfigInvalid: nova-compute does not
    start, as with Nova's own driver, but the message names what is wrong."""
    try:
        found = namespaces.parse_ndctl(ndctl_text, conf.device_dir)
        if daxctl_text is not None:
            found = namespaces.merge(
                found, namespaces.parse_daxctl(daxctl_text, conf.device_dir)
            )
        found = [_numa_node_from_sysfs(f, conf.sysfs_dir) for f in found]
        return namespaces.select(namespaces.parse_config(pmem_namespaces), found)
    except (exception.InvalidNamespaceConfig, exception.DiscoveryOutputInvalid) as err:
        raise nova_exception.PMEMNamespaceConfigInvalid(reason=str(err))


def device(ns):
    """Nova's value for one namespace (what it stores in instance.resources)."""
    return nova_objects.LibvirtVPMEMDevice(
        label=ns.label, name=ns.name, devpath=ns.devpath, size=ns.size, align=ns.align
    )


def _guest_cell_of_host_node(guest):
    """{host NUMA node: guest cell id}, from the guest's memnode pinning."""
    memnodes = guest.numatune.memnodes if guest.numatune else []
    return {node: memnode.cellid for memnode in memnodes for node in memnode.nodeset}


def place(guest, host_node_of_devpath):
    """Put each nvdimm on the guest cell pinned to its namespace's host NUMA
    node, when the guest has one (Nova puts every nvdimm on cell 0), and size
    it down to a multiple of its alignment (libvirt and device-dax refuse an
    unaligned mapping; Nova uses the raw size)."""
    cell_of = _guest_cell_of_host_node(guest)
    for dev in guest.devices:
        if not isinstance(dev, vconfig.LibvirtConfigGuestVPMEM):
            continue
        dev.target_size = config.aligned_down(dev.target_size, dev.align_size)
        host_node = host_node_of_devpath.get(dev.source_path)
        if host_node in cell_of:
            dev.target_node = cell_of[host_node]
        elif host_node is not None and cell_of:
            LOG.warning(
                "Namespace %s is on host NUMA node %s, where the guest %s has no "
                "cell; it stays on guest cell %s",
                dev.source_path,
                host_node,
                guest.name,
                dev.target_node,
            )


def names_in(guest, devices_by_name):
    """Names of the namespaces the guest's nvdimm devices use."""
    name_of = {device.devpath: name for name, device in devices_by_name.items()}
    return [
        name_of[dev.source_path]
        for dev in guest.devices
        if isinstance(dev, vconfig.LibvirtConfigGuestVPMEM)
        and dev.source_path in name_of
    ]
