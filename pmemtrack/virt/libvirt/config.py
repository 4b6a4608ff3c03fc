"""The guest's domain XML, with each assigned namespace as an nvdimm device.

libvirt's test driver lets through several mistakes that QEMU refuses at start
(more devices than slots, unaligned sizes, a device without a guest NUMA node,
relative or shared paths), so ``check`` refuses them here, before libvirt sees
the XML.
"""

import dataclasses
import os
import xml.etree.ElementTree as ET

from pmemtrack import exception

KiB = 1024
# The label area at the start of each nvdimm, where the guest keeps its
# namespace labels. QEMU wants at least 128 KiB; 2 MiB keeps the data area
# aligned for the common 2 MiB device alignment.
LABEL_SIZE = 2 * 1024 * 1024


def aligned_down(size, align):
    """``size`` rounded down to a multiple of ``align`` (0: no alignment):
    libvirt and the kernel's device-dax refuse an unaligned mapping."""
    return size - size % align if align else size


@dataclasses.dataclass(frozen=True)
class Nvdimm:
    devpath: str
    size: int
    align: int
    guest_node: int = 0

    @property
    def target_size(self):
        """The namespace size rounded down to its alignment, in bytes."""
        return aligned_down(self.size, self.align)


@dataclasses.dataclass
class Guest:
    name: str
    uuid: str
    memory_mb: int
    vcpus: int
    nvdimms: list
    numa_cells: int = 1
    domain_type: str = "kvm"

    @property
    def ram_kib(self):
        return self.memory_mb * 1024

    @property
    def nvdimm_kib(self):
        return sum(d.target_size for d in self.nvdimms) // KiB


def from_devices(devices, numa_cells=1):
    """Nvdimms for LibvirtVPMEMDevice objects, spread over the guest's cells."""
    return [
        Nvdimm(d.devpath, d.size, d.align, guest_node=i % numa_cells)
        for i, d in enumerate(devices)
    ]


def check(guest):
    """Raise InvalidGuestConfig for what libvirt's test driver would accept
    but a real hypervisor would not."""

    def refuse(reason):
        raise exception.InvalidGuestConfig(instance_uuid=guest.uuid, reason=reason)

    if guest.vcpus < guest.numa_cells:
        refuse(f"{guest.numa_cells} guest NUMA cells need at least as many vCPUs")
    if guest.memory_mb < guest.numa_cells:
        refuse(f"{guest.memory_mb} MiB of RAM cannot be split into cells")
    paths = [d.devpath for d in guest.nvdimms]
    for dimm in guest.nvdimms:
        if not os.path.isabs(dimm.devpath):
            refuse(f"nvdimm path {dimm.devpath!r} is not absolute")
        if paths.count(dimm.devpath) > 1:
            refuse(f"nvdimm path {dimm.devpath} is assigned twice")
        if dimm.align and dimm.align % KiB:
            refuse(f"alignment {dimm.align} of {dimm.devpath} is not whole KiB")
        if dimm.target_size <= LABEL_SIZE:
            refuse(
                f"namespace {dimm.devpath} of {dimm.size} bytes is too small for "
                f"the {LABEL_SIZE}-byte label area"
            )
        if not 0 <= dimm.guest_node < guest.numa_cells:
            refuse(f"guest NUMA node {dimm.guest_node} does not exist")


def _sub(parent, tag, text=None, **attrs):
    element = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        element.text = str(text)
    return element


def _numa(domain, guest):
    cpu = _sub(domain, "cpu")
    numa = _sub(cpu, "numa")
    per_cell_kib = guest.ram_kib // guest.numa_cells
    per_cell_cpus = guest.vcpus // guest.numa_cells
    for cell in range(guest.numa_cells):
        first = cell * per_cell_cpus
        last = (
            guest.vcpus - 1
            if cell == guest.numa_cells - 1
            else first + per_cell_cpus - 1
        )
        memory = per_cell_kib + (
            guest.ram_kib % guest.numa_cells if cell == guest.numa_cells - 1 else 0
        )
        _sub(numa, "cell", id=cell, cpus=f"{first}-{last}", memory=memory, unit="KiB")


def _nvdimm(devices, dimm):
    memory = _sub(devices, "memory", model="nvdimm", access="shared")
    source = _sub(memory, "source")
    _sub(source, "path", dimm.devpath)
    if dimm.align:
        _sub(source, "alignsize", dimm.align // KiB, unit="KiB")
    _sub(source, "pmem")
    target = _sub(memory, "target")
    _sub(target, "size", dimm.target_size // KiB, unit="KiB")
    _sub(target, "node", dimm.guest_node)
    label = _sub(target, "label")
    _sub(label, "size", LABEL_SIZE // KiB, unit="KiB")


def to_xml(guest):
    """The domain XML of ``guest``; call ``check`` first."""
    domain = ET.Element("domain", type=guest.domain_type)
    _sub(domain, "name", guest.name)
    _sub(domain, "uuid", guest.uuid)
    # libvirt counts memory devices in <memory> and the boot RAM in
    # <currentMemory>; every nvdimm takes one hotplug slot under maxMemory.
    total_kib = guest.ram_kib + guest.nvdimm_kib
    if guest.nvdimms:
        _sub(domain, "maxMemory", total_kib, slots=len(guest.nvdimms), unit="KiB")
    _sub(domain, "memory", total_kib, unit="KiB")
    _sub(domain, "currentMemory", guest.ram_kib, unit="KiB")
    _sub(domain, "vcpu", guest.vcpus)
    os_element = _sub(domain, "os")
    _sub(os_element, "type", "hvm")
    features = _sub(domain, "features")
    _sub(features, "acpi")
    _numa(domain, guest)
    devices = _sub(domain, "devices")
    for dimm in guest.nvdimms:
        _nvdimm(devices, dimm)
    ET.indent(domain)
    return ET.tostring(domain, encoding="unicode")


def nvdimm_paths(xml):
    """The source paths of every nvdimm in a domain's XML, in order."""
    root = ET.fromstring(xml)
    return [
        path.text.strip()
        for path in root.findall("./devices/memory[@model='nvdimm']/source/path")
        if path.text
    ]
