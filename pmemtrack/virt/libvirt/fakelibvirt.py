"""A pure-Python stand-in for the part of libvirt-python pmemtrack uses.

It behaves like libvirt 9.0.0's ``test:///default`` driver, measured against
the real module: the same checks of nvdimm domain XML, the same error codes and
messages, and the same lifecycle and shared state. tests/unit/virt/
test_fakelibvirt.py runs one set of assertions against both to keep it honest.

What it does not try to be: a general libvirt. XML it does not understand is
kept as given rather than validated, and only ``test:///default`` opens.
"""

import builtins
import dataclasses
import socket
import threading
import time
import uuid as uuid_lib
from xml.etree import ElementTree

# -- constants (the values are libvirt's own) ---------------------------------

VIR_ERR_ERROR = 2  # the error level every error here is raised at

VIR_ERR_INTERNAL_ERROR = 1
VIR_ERR_NO_SUPPORT = 3
VIR_ERR_NO_CONNECT = 5
VIR_ERR_INVALID_CONN = 6
VIR_ERR_INVALID_ARG = 8
VIR_ERR_OPERATION_FAILED = 9
VIR_ERR_NO_NAME = 21
VIR_ERR_XML_ERROR = 27
VIR_ERR_OPERATION_DENIED = 29
VIR_ERR_XML_DETAIL = 35
VIR_ERR_NO_DOMAIN = 42
VIR_ERR_OPERATION_INVALID = 55
VIR_ERR_CONFIG_UNSUPPORTED = 67

VIR_FROM_NONE = 0
VIR_FROM_XML = 5
VIR_FROM_TEST = 12
VIR_FROM_DOMAIN = 20

VIR_DOMAIN_NOSTATE = 0
VIR_DOMAIN_RUNNING = 1
VIR_DOMAIN_BLOCKED = 2
VIR_DOMAIN_PAUSED = 3
VIR_DOMAIN_SHUTDOWN = 4
VIR_DOMAIN_SHUTOFF = 5
VIR_DOMAIN_CRASHED = 6

VIR_DOMAIN_RUNNING_UNKNOWN = 0
VIR_DOMAIN_RUNNING_BOOTED = 1
VIR_DOMAIN_SHUTOFF_UNKNOWN = 0
VIR_DOMAIN_SHUTOFF_SHUTDOWN = 1
VIR_DOMAIN_SHUTOFF_DESTROYED = 2

VIR_CONNECT_LIST_DOMAINS_ACTIVE = 1
VIR_CONNECT_LIST_DOMAINS_INACTIVE = 2
VIR_CONNECT_LIST_DOMAINS_PERSISTENT = 4
VIR_CONNECT_LIST_DOMAINS_TRANSIENT = 8
VIR_CONNECT_LIST_DOMAINS_RUNNING = 16
VIR_CONNECT_LIST_DOMAINS_PAUSED = 32
VIR_CONNECT_LIST_DOMAINS_SHUTOFF = 64
VIR_CONNECT_LIST_DOMAINS_OTHER = 128
VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE = 256
VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE = 512
VIR_CONNECT_LIST_DOMAINS_AUTOSTART = 1024
VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART = 2048
VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT = 4096
VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT = 8192
VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT = 16384
VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT = 32768

VIR_DOMAIN_XML_SECURE = 1
VIR_DOMAIN_XML_INACTIVE = 2
VIR_DOMAIN_XML_UPDATE_CPU = 4
VIR_DOMAIN_XML_MIGRATABLE = 8

VIR_DOMAIN_UNDEFINE_MANAGED_SAVE = 1
VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA = 2
VIR_DOMAIN_UNDEFINE_NVRAM = 4
VIR_DOMAIN_UNDEFINE_KEEP_NVRAM = 8

VIR_DOMAIN_REBOOT_DEFAULT = 0
VIR_DOMAIN_REBOOT_ACPI_POWER_BTN = 1
VIR_DOMAIN_REBOOT_GUEST_AGENT = 2
VIR_DOMAIN_REBOOT_INITCTL = 4
VIR_DOMAIN_REBOOT_SIGNAL = 8
VIR_DOMAIN_REBOOT_PARAVIRT = 16

# The flags the test driver's functions accept; anything else it refuses.
_XML_DESC_FLAGS = (
    VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_MIGRATABLE
)
_UNDEFINE_FLAGS = (
    VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
)
_REBOOT_FLAGS = 0x1F
_LIST_FLAGS = 0xFFFF

# listAllDomains: bits in one group are alternatives, the groups all apply.
_LIST_FILTER_GROUPS = (
    VIR_CONNECT_LIST_DOMAINS_ACTIVE | VIR_CONNECT_LIST_DOMAINS_INACTIVE,
    VIR_CONNECT_LIST_DOMAINS_PERSISTENT | VIR_CONNECT_LIST_DOMAINS_TRANSIENT,
    VIR_CONNECT_LIST_DOMAINS_RUNNING
    | VIR_CONNECT_LIST_DOMAINS_PAUSED
    | VIR_CONNECT_LIST_DOMAINS_SHUTOFF
    | VIR_CONNECT_LIST_DOMAINS_OTHER,
    VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE | VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE,
    VIR_CONNECT_LIST_DOMAINS_AUTOSTART | VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART,
    VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT | VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT,
    VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT | VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT,
)
# The fake has no managed saves, autostart, snapshots or checkpoints.
_LIST_ALWAYS = (
    VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE
    | VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART
    | VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT
    | VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT
)
_LIST_BY_STATE = {
    VIR_DOMAIN_RUNNING: VIR_CONNECT_LIST_DOMAINS_RUNNING,
    VIR_DOMAIN_PAUSED: VIR_CONNECT_LIST_DOMAINS_PAUSED,
    VIR_DOMAIN_SHUTOFF: VIR_CONNECT_LIST_DOMAINS_SHUTOFF,
}

_LIB_VERSION = 9000000  # 9.0.0, the release the behaviour was measured on
_TEST_HV_VERSION = 2
_URI = "test:///default"
_NODE_INFO = ["i686", 3072, 16, 1400, 2, 2, 2, 2]
# <cpu> counts a node file may set, and what the test driver takes otherwise.
_NODE_CPU_DEFAULTS = (("nodes", 2), ("sockets", 2), ("cores", 2), ("threads", 2))

_DOMAIN_TYPES = frozenset(
    "none qemu kqemu kvm xen lxc uml openvz test vmware hyperv vbox phyp "
    "parallels bhyve vz hvf".split()
)
_MEMORY_MODELS = frozenset(("dimm", "nvdimm", "virtio-pmem", "virtio-mem", "sgx-epc"))
_MEMORY_ACCESS = frozenset(("shared", "private"))
_FILE_BACKED_MODELS = frozenset(("nvdimm", "virtio-pmem"))
_LIFECYCLE_ACTIONS = frozenset(
    "destroy restart rename-restart preserve coredump-destroy coredump-restart".split()
)
# (element, event name in messages, default action)
_LIFECYCLE_EVENTS = (
    ("on_poweroff", "poweroff", "destroy"),
    ("on_reboot", "reboot", "restart"),
    ("on_crash", "crash", "destroy"),
)

# libvirt writes the top-level elements in this order whatever the input's.
_TOP_LEVEL_RANK = {
    tag: rank
    for rank, tag in enumerate(
        "name uuid genid title description metadata maxMemory memory currentMemory "
        "blkiotune memtune memoryBacking vcpu vcpus iothreads iothreadids cputune "
        "numatune resource sysinfo bootloader bootloader_args os idmap features cpu "
        "clock on_poweroff on_reboot on_crash on_lockfailure pm perf devices "
        "seclabel keywrap launchSecurity".split()
    )
}
_DEVICE_ORDER = {"memory": 1, "iommu": 2, "vsock": 3, "crypto": 4}
_MEMORY_TARGET_ORDER = {"size": 0, "node": 1, "label": 2, "readonly": 3}

# The domain the test driver starts with, as its XMLDesc(INACTIVE) gives it.
_DEFAULT_DOMAIN_XML = """<domain type='test'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>8388608</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default'/>
      <target dev='testnet0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </interface>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </memballoon>
  </devices>
</domain>
"""


# -- errors -------------------------------------------------------------------

# str1, str2, str3, int1 and int2 of libvirt's error: nothing reads them here.
_NO_ERROR_DETAILS = (None, None, None, -1, -1)


class libvirtError(Exception):
    """libvirt's exception. ``err`` is the same 9-tuple the real one carries;
    it is None when raised without an error code, as the real one is when
    libvirt has no last error to report."""

    def __init__(self, defmsg, error_code=None, error_domain=VIR_FROM_NONE):
        super().__init__(defmsg)
        self.err = None
        if error_code is not None:
            head = (error_code, error_domain, defmsg, VIR_ERR_ERROR)
            self.err = head + _NO_ERROR_DETAILS

    def _field(self, index):
        return None if self.err is None else self.err[index]

    def get_error_code(self):
        return self._field(0)

    def get_error_domain(self):
        return self._field(1)

    def get_error_message(self):
        return self._field(2)

    def get_error_level(self):
        return self._field(3)


def _xml_error(message, domain=VIR_FROM_DOMAIN):
    return libvirtError(f"XML error: {message}", VIR_ERR_XML_ERROR, domain)


def _xml_detail(message):
    return libvirtError(message, VIR_ERR_XML_DETAIL, VIR_FROM_DOMAIN)


def _unsupported(message):
    return libvirtError(
        f"unsupported configuration: {message}",
        VIR_ERR_CONFIG_UNSUPPORTED,
        VIR_FROM_DOMAIN,
    )


def _not_running():
    return libvirtError(
        "Requested operation is not valid: domain is not running",
        VIR_ERR_OPERATION_INVALID,
        VIR_FROM_DOMAIN,
    )


def _check_flags(flags, allowed, function):
    unsupported = flags & ~allowed
    if unsupported:
        raise libvirtError(
            f"unsupported flags ({unsupported:#x}) in function {function}",
            VIR_ERR_INVALID_ARG,
            VIR_FROM_TEST,
        )


# -- values: sizes, numbers, UUIDs ---------------------------------------------


def _unit_scale(unit):
    """Bytes per ``unit``, spelled as libvirt's virScaleInteger takes it."""
    if not unit:
        return 1024  # memory sizes default to KiB
    lowered = unit.lower()
    if lowered in ("b", "byte", "bytes"):
        return 1
    power = "kmgtpe".find(lowered[0]) + 1
    base = {"": 1024, "ib": 1024, "b": 1000}.get(lowered[1:])
    if power == 0 or base is None:
        raise libvirtError(
            f"invalid argument: unknown suffix '{unit}'", VIR_ERR_INVALID_ARG
        )
    return base**power


def _is_number(text):
    return text.isascii() and text.isdigit()


def _to_kib(value, unit, where, required=False):
    """A size in KiB, rounded up as libvirt rounds it; 0 when absent."""
    if not value:
        if required:
            raise _xml_error(f"missing element or attribute '{where}'", VIR_FROM_XML)
        return 0
    if not _is_number(value):
        raise _xml_error(
            f"Invalid value '{value}' for element or attribute '{where}'",
            VIR_FROM_XML,
        )
    return -(-int(value) * _unit_scale(unit) // 1024)


def _element_kib(parent, path, where, required=False):
    elem = parent.find(path)
    if elem is None:
        return _to_kib(None, None, where, required)
    return _to_kib(elem.text, elem.get("unit"), where, required)


def _parse_uuid(text):
    """The canonical form of ``text``, or None where libvirt's virUUIDParse
    would refuse it: 32 hex digits, dashes or spaces only between byte pairs,
    surrounding whitespace allowed."""
    rest = text.strip()
    digits = []
    while len(digits) < 16 and rest:
        if rest[0] in "- ":
            rest = rest[1:]
            continue
        pair = rest[:2]
        if len(pair) < 2 or not all(c in "0123456789abcdefABCDEF" for c in pair):
            return None
        digits.append(pair.lower())
        rest = rest[2:]
    if len(digits) < 16 or rest.strip():
        return None
    hexa = "".join(digits)
    return f"{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}"


# -- XML in and out -------------------------------------------------------------


def _parse_document(xml, source="(domain_definition)", error_domain=VIR_FROM_DOMAIN):
    """The root element and {namespace URI: prefix} for writing it back."""
    parser = ElementTree.XMLPullParser(events=("start", "start-ns"))
    try:
        parser.feed(xml)
        parser.close()
    except ElementTree.ParseError as err:
        raise libvirtError(
            f"{source}:{err.position[0]}: {err}", VIR_ERR_XML_DETAIL, error_domain
        )
    root = None
    prefixes = {}
    for event, item in parser.read_events():
        if event == "start-ns":
            prefixes.setdefault(item[1], item[0])
        elif root is None:
            root = item
    return root, prefixes


def _escape(text):
    for char, entity in (
        ("&", "&amp;"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ("'", "&apos;"),
        ('"', "&quot;"),
    ):
        text = text.replace(char, entity)
    return text


def _qualify(name, prefixes, declared, wanted):
    """``{uri}local`` as ``prefix:local``; notes URIs still to be declared."""
    if not name.startswith("{"):
        return name
    uri, local = name[1:].split("}", 1)
    prefix = prefixes.get(uri, "ns0")
    if uri not in declared:
        wanted[uri] = prefix
    return f"{prefix}:{local}" if prefix else local


def _format_element(elem, depth, lines, prefixes, declared):
    # Written by hand rather than by ElementTree so the output looks like
    # libvirt's: single-quoted attributes, two-space indents, "<acpi/>".
    wanted = {}
    tag = _qualify(elem.tag, prefixes, declared, wanted)
    attrs = [(_qualify(k, prefixes, declared, wanted), v) for k, v in elem.items()]
    for uri, prefix in wanted.items():
        attrs.insert(0, (f"xmlns:{prefix}" if prefix else "xmlns", uri))
    indent = "  " * depth
    start = indent + "<" + tag + "".join(f" {k}='{_escape(v)}'" for k, v in attrs)
    text = elem.text if elem.text and elem.text.strip() else None
    if len(elem) or tag == "devices":
        lines.append(start + ">")
        for child in elem:
            _format_element(child, depth + 1, lines, prefixes, declared | set(wanted))
        lines.append(f"{indent}</{tag}>")
    elif text is not None:
        lines.append(f"{start}>{_escape(text)}</{tag}>")
    else:
        lines.append(start + "/>")


def _sub(parent, tag, text=None, **attrib):
    child = ElementTree.SubElement(parent, tag, attrib)
    child.text = text
    return child


def _replace(parent, tag, text=None, **attrib):
    for old in parent.findall(tag):
        parent.remove(old)
    return _sub(parent, tag, text, **attrib)


def _sort_children(parent, rank, default):
    parent[:] = sorted(parent, key=lambda child: rank.get(child.tag, default))


# -- domain definitions ------------------------------------------------------------


@dataclasses.dataclass
class _MemorySizes:
    total: int  # KiB, what <memory> says: boot RAM plus every memory device
    current: int
    maximum: int
    slots: int


@dataclasses.dataclass
class _MemoryDevice:
    elem: ElementTree.Element
    model: str
    path: str | None
    size: int
    node: int  # -1 when no guest NUMA node is named
    label: int


class _Definition:
    """One domain config, checked as the test driver checks it and written
    back the way it writes it. Never changed once made, so a running domain
    and its persistent config can share one."""

    def __init__(self, xml):
        root, self._prefixes = _parse_document(xml)
        if root.tag != "domain":
            raise _xml_error(
                f"expecting root element of 'domain', not '{root.tag}'", VIR_FROM_XML
            )
        _check_domain_type(root.get("type"))
        self.name = _parse_name(root)
        self.uuid = _parse_domain_uuid(root)
        self.memory = _parse_memory_sizes(root)
        cells = _parse_numa_cells(root)
        self.vcpus = _parse_vcpus(root)
        _check_os(root)
        self.lifecycle = _parse_lifecycle(root)
        devices = [_parse_memory_device(e) for e in root.findall("devices/memory")]
        _settle_memory(self.memory, cells, devices)
        for device in devices:
            _validate_memory_device(device, len(cells))
        self._root = root
        self._normalise(devices)

    def to_xml(self, domain_id=-1):
        root = self._root
        if domain_id != -1:
            # A running domain's XML carries its ID right after its type.
            attrib = {"type": root.get("type"), "id": str(domain_id), **root.attrib}
            root = ElementTree.Element(root.tag, attrib)
            root.extend(list(self._root))
        lines = []
        _format_element(root, 0, lines, self._prefixes, frozenset())
        return "\n".join(lines) + "\n"

    def _normalise(self, devices):
        root = self._root
        root.attrib.pop("id", None)
        _replace(root, "uuid", self.uuid)
        self._normalise_memory()
        vcpu = root.find("vcpu")
        if vcpu is None:
            vcpu = _sub(root, "vcpu", "1")
        vcpu.attrib = {"placement": "static", **vcpu.attrib}
        _normalise_os(root.find("os"))
        for cell in root.findall("cpu/numa/cell"):
            _set_kib_attribute(cell, "memory")
        if root.find("clock") is None:
            _sub(root, "clock", offset="utc")
        for tag, _event, _default in _LIFECYCLE_EVENTS:
            _replace(root, tag, self.lifecycle[tag])
        devices_elem = root.find("devices")
        if devices_elem is None:
            devices_elem = _sub(root, "devices")
        for device in devices:
            _normalise_memory_device(device)
        _sort_children(devices_elem, _DEVICE_ORDER, 0)
        _sort_children(root, _TOP_LEVEL_RANK, len(_TOP_LEVEL_RANK))

    def _normalise_memory(self):
        root, sizes = self._root, self.memory
        old = root.find("memory")
        attrib = {} if old is None else dict(old.attrib)
        attrib.pop("unit", None)
        for stale in root.findall("maxMemory"):
            root.remove(stale)
        if sizes.maximum:
            _replace(
                root,
                "maxMemory",
                str(sizes.maximum),
                slots=str(sizes.slots),
                unit="KiB",
            )
        _replace(root, "memory", str(sizes.total), **attrib, unit="KiB")
        _replace(root, "currentMemory", str(sizes.current), unit="KiB")


def _check_domain_type(kind):
    if kind is None:
        raise libvirtError(
            "internal error: missing domain type attribute",
            VIR_ERR_INTERNAL_ERROR,
            VIR_FROM_DOMAIN,
        )
    if kind not in _DOMAIN_TYPES:
        raise _unsupported(f"invalid domain type {kind}")


def _parse_name(root):
    name = root.findtext("name")
    if not name:
        raise libvirtError("missing name information", VIR_ERR_NO_NAME, VIR_FROM_DOMAIN)
    if "/" in name:
        raise _xml_error(f"name {name} cannot contain '/'")
    return name


def _parse_domain_uuid(root):
    text = root.findtext("uuid")
    if text is None:
        return str(uuid_lib.uuid4())
    parsed = _parse_uuid(text)
    if parsed is None:
        raise libvirtError(
            "internal error: malformed uuid element",
            VIR_ERR_INTERNAL_ERROR,
            VIR_FROM_DOMAIN,
        )
    return parsed


def _parse_memory_sizes(root):
    total = _element_kib(root, "memory", "./memory[1]")
    maximum = _element_kib(root, "maxMemory", "./maxMemory[1]")
    slots = root.find("maxMemory")
    slots = "0" if slots is None else slots.get("slots", "0")
    if not _is_number(slots):
        raise _xml_error("Failed to parse memory slot count")
    current = _element_kib(root, "currentMemory", "./currentMemory[1]")
    return _MemorySizes(total, current, maximum, int(slots))


def _parse_numa_cells(root):
    """The KiB of every guest NUMA cell, in order."""
    return [
        _to_kib(cell.get("memory"), cell.get("unit"), "./@memory", required=True)
        for cell in root.findall("cpu/numa/cell")
    ]


def _parse_vcpus(root):
    text = root.findtext("vcpu")
    if text is None:
        return 1
    if not _is_number(text.strip()):
        raise _xml_error("maximum vcpus count must be an integer")
    return int(text)


def _check_os(root):
    if not (root.findtext("os/type") or "").strip():
        raise _xml_error("an os <type> must be specified")


def _parse_lifecycle(root):
    actions = {}
    for tag, event, default in _LIFECYCLE_EVENTS:
        action = root.findtext(tag, default)
        if action not in _LIFECYCLE_ACTIONS:
            raise _unsupported(f"unknown {tag} action: {action}")
        if action.startswith("coredump-") and event != "crash":
            raise _unsupported(
                f"Lifecycle event '{event}' doesn't support '{action}' action"
            )
        actions[tag] = action
    return actions


def _check_choice(elem, attribute, choices, required):
    value = elem.get(attribute)
    if value is None and required:
        raise _xml_error(
            f"Missing required attribute '{attribute}' in element 'memory'",
            VIR_FROM_XML,
        )
    if value is not None and value not in choices:
        raise _xml_error(
            f"Invalid value for attribute '{attribute}' in element 'memory': "
            f"'{value}'.",
            VIR_FROM_XML,
        )
    return value


def _parse_memory_device(elem):
    model = _check_choice(elem, "model", _MEMORY_MODELS, required=True)
    _check_choice(elem, "access", _MEMORY_ACCESS, required=False)
    source = elem.find("source")
    path = None
    if source is not None:
        path = source.findtext("path") or None
        _element_kib(source, "alignsize", "./alignsize")
    target = elem.find("target")
    if target is None:
        raise _xml_error("missing <target> element for <memory> device")
    size = _element_kib(target, "size", "./size", required=True)
    node = target.findtext("node")
    if node is not None and not _is_number(node):
        raise _xml_error("invalid value of memory device node")
    label = 0
    if model == "nvdimm":
        label = _element_kib(target, "label/size", "./label/size")
        _check_nvdimm_label(label, size)
    node = -1 if node is None else int(node)
    return _MemoryDevice(elem, model, path, size, node, label)


def _check_nvdimm_label(label, size):
    # An absent label counts as 0 KiB: it escapes the minimum, but not the
    # comparison with the size, so a 0-sized nvdimm is refused even unlabelled.
    if label and label < 128:
        raise _xml_error("nvdimm label must be at least 128KiB")
    if label >= size:
        raise _xml_error("label size must be smaller than NVDIMM size")


def _settle_memory(sizes, cells, devices):
    """libvirt's post-parse memory rules. <memory> counts the memory devices
    too; only when it is absent does libvirt add them to the NUMA cells."""
    hotplug = sum(device.size for device in devices)
    numa = sum(cells) if sizes.total == 0 else 0
    if numa:
        sizes.total = numa + hotplug
    elif hotplug > sizes.total:
        raise _xml_error("Total size of memory devices exceeds the total memory size")
    if sizes.total == hotplug:
        raise _xml_error(
            "Memory size must be specified via <memory> or in the <numa> configuration"
        )
    if sizes.current == 0 or sizes.current > sizes.total:
        sizes.current = sizes.total
    if bool(sizes.maximum) != bool(sizes.slots):
        raise _xml_error(
            "both maximum memory size and memory slot count must be specified"
        )
    if sizes.maximum and sizes.maximum < sizes.total:
        raise _xml_error(
            "maximum memory size must be equal or greater than the actual memory size"
        )


def _validate_memory_device(device, node_count):
    if device.node != -1 and node_count == 0:
        raise _xml_detail(
            "can't add memory backend as guest has no NUMA nodes configured"
        )
    if device.node >= node_count:
        raise _xml_detail(
            f"can't add memory backend for guest node '{device.node}' as the guest "
            f"has only '{node_count}' NUMA nodes configured"
        )
    if device.model == "nvdimm" and device.path is None:
        raise _xml_detail("path is required for model 'nvdimm'")


def _set_kib_attribute(elem, attribute):
    value = _to_kib(elem.get(attribute), elem.get("unit"), f"./@{attribute}")
    attrib = {k: v for k, v in elem.items() if k not in (attribute, "unit")}
    elem.attrib = {**attrib, attribute: str(value), "unit": "KiB"}


def _set_kib_element(elem, value):
    elem.text = str(value)
    elem.attrib = {"unit": "KiB"}


def _normalise_os(os_elem):
    kind = os_elem.find("type")
    kind.attrib = {"arch": "i686", **kind.attrib}
    # libvirt boots an hvm guest from its disk unless the XML names a boot
    # device or a kernel to boot directly.
    told = os_elem.find("boot") is not None or os_elem.find("kernel") is not None
    if kind.text.strip() == "hvm" and not told:
        _sub(os_elem, "boot", dev="hd")


def _normalise_memory_device(device):
    _normalise_memory_source(device)
    target = device.elem.find("target")
    _set_kib_element(target.find("size"), device.size)
    for label in target.findall("label"):
        target.remove(label)
    if device.label:
        label = _sub(target, "label")
        _sub(label, "size", str(device.label), unit="KiB")
    _sort_children(target, _MEMORY_TARGET_ORDER, len(_MEMORY_TARGET_ORDER))


def _normalise_memory_source(device):
    source = device.elem.find("source")
    if source is None:
        return
    if device.model not in _FILE_BACKED_MODELS:
        # libvirt never reads these for RAM-backed models, so never writes them.
        for tag in ("path", "alignsize", "pmem"):
            for child in source.findall(tag):
                source.remove(child)
        if not len(source):
            device.elem.remove(source)
            return
    alignsize = source.find("alignsize")
    if alignsize is not None:
        _set_kib_element(alignsize, _element_kib(source, "alignsize", "./alignsize"))


# -- the driver's state ----------------------------------------------------------


class _DomainRecord:
    """What the driver knows of one domain; handles only point at it."""

    def __init__(self, definition):
        self.uuid = definition.uuid
        self.name = definition.name
        # What the domain boots next: a running domain keeps its live config
        # until it stops, even after being redefined or undefined.
        self.config = definition
        self.live = None
        self.persistent = True
        self.id = -1
        self.state = VIR_DOMAIN_SHUTOFF
        self.reason = VIR_DOMAIN_SHUTOFF_UNKNOWN

    @property
    def active(self):
        return self.live is not None

    @property
    def current(self):
        return self.live or self.config

    def list_flags(self):
        """The listAllDomains filter bits this domain matches."""
        flags = _LIST_ALWAYS
        flags |= _LIST_BY_STATE.get(self.state, VIR_CONNECT_LIST_DOMAINS_OTHER)
        if self.active:
            flags |= VIR_CONNECT_LIST_DOMAINS_ACTIVE
        else:
            flags |= VIR_CONNECT_LIST_DOMAINS_INACTIVE
        if self.persistent:
            flags |= VIR_CONNECT_LIST_DOMAINS_PERSISTENT
        else:
            flags |= VIR_CONNECT_LIST_DOMAINS_TRANSIENT
        return flags


class _Store:
    """One test driver's domains. test:///default's is shared: like libvirt's,
    it lives while any connection to it does, and starts afresh once the last
    one is gone. A node file's belongs to a single connection."""

    def __init__(self, node_info=None, default_domain=True):
        self.lock = threading.RLock()
        self.connections = 0
        self.node_info = node_info or _NODE_INFO
        self._default_domain = default_domain
        self.restore()

    def restore(self):
        with self.lock:
            self.domains = {}  # uuid -> _DomainRecord, in definition order
            self.next_id = 1
            if self._default_domain:
                record = self.define(_Definition(_DEFAULT_DOMAIN_XML))
                self._start(record)
                record.reason = VIR_DOMAIN_RUNNING_UNKNOWN

    def acquire(self):
        with self.lock:
            self.connections += 1

    def release(self):
        with self.lock:
            self.connections -= 1
            if self.connections == 0:
                self.restore()

    # -- lookups --

    def records(self):
        with self.lock:
            return list(self.domains.values())

    def by_name(self, name):
        with self.lock:
            for record in self.domains.values():
                if record.name == name:
                    return record
        raise libvirtError("Domain not found", VIR_ERR_NO_DOMAIN, VIR_FROM_TEST)

    def by_uuid(self, uuid):
        parsed = _parse_uuid(uuid)
        if parsed is None:
            raise libvirtError("Invalid UUID", VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN)
        with self.lock:
            if parsed in self.domains:
                return self.domains[parsed]
        raise libvirtError("Domain not found", VIR_ERR_NO_DOMAIN, VIR_FROM_TEST)

    def get(self, uuid, name):
        """The record behind a handle, which may have gone since it was made."""
        with self.lock:
            if uuid in self.domains:
                return self.domains[uuid]
        raise libvirtError(
            f"Domain not found: no domain with matching uuid '{uuid}' ({name})",
            VIR_ERR_NO_DOMAIN,
            VIR_FROM_TEST,
        )

    # -- changes --

    def define(self, definition):
        with self.lock:
            record = self.domains.get(definition.uuid)
            if record is None:
                self._check_name_free(definition.name)
                record = _DomainRecord(definition)
                self.domains[record.uuid] = record
                return record
            if record.name != definition.name:
                raise _operation_failed(
                    f"domain '{record.name}' is already defined with uuid {record.uuid}"
                )
            # A running domain keeps its live config until it next stops.
            record.config = definition
            record.persistent = True
            return record

    def _check_name_free(self, name):
        for record in self.domains.values():
            if record.name == name:
                raise _operation_failed(
                    f"domain '{name}' already exists with uuid {record.uuid}"
                )

    def create(self, uuid, name):
        with self.lock:
            record = self.get(uuid, name)
            if record.active:
                raise libvirtError(
                    f"internal error: Domain '{name}' is already running",
                    VIR_ERR_INTERNAL_ERROR,
                    VIR_FROM_TEST,
                )
            self._start(record)
            return record

    def _start(self, record):
        record.live = record.config
        record.id = self.next_id
        self.next_id += 1
        record.state = VIR_DOMAIN_RUNNING
        record.reason = VIR_DOMAIN_RUNNING_BOOTED

    def destroy(self, uuid, name):
        with self.lock:
            record = self._running(uuid, name)
            self._stop(record, VIR_DOMAIN_SHUTOFF_DESTROYED)
            return record

    def shutdown(self, uuid, name):
        with self.lock:
            record = self.get(uuid, name)
            if not record.active:
                raise libvirtError(
                    f"internal error: domain '{name}' not running",
                    VIR_ERR_INTERNAL_ERROR,
                    VIR_FROM_TEST,
                )
            self._apply(record, record.live.lifecycle["on_poweroff"])
            return record

    def reboot(self, uuid, name):
        with self.lock:
            record = self._running(uuid, name)
            self._apply(record, record.live.lifecycle["on_reboot"])
            return record

    def reset(self, uuid, name):
        with self.lock:
            return self._running(uuid, name)

    def undefine(self, uuid, name):
        with self.lock:
            record = self.get(uuid, name)
            # Undefining what is already transient is no error to the driver.
            if not record.persistent:
                return record
            if record.active:
                record.persistent = False
            else:
                del self.domains[uuid]
            return record

    def _running(self, uuid, name):
        record = self.get(uuid, name)
        if not record.active:
            raise _not_running()
        return record

    def _apply(self, record, action):
        """A guest's own shutdown or reboot ends as its lifecycle action says."""
        if action in ("destroy", "preserve"):
            self._stop(record, VIR_DOMAIN_SHUTOFF_SHUTDOWN)
        else:
            record.state = VIR_DOMAIN_RUNNING
            record.reason = VIR_DOMAIN_RUNNING_BOOTED

    def _stop(self, record, reason):
        record.live = None
        record.id = -1
        record.state = VIR_DOMAIN_SHUTOFF
        record.reason = reason
        if not record.persistent:
            del self.domains[record.uuid]


def _operation_failed(message):
    return libvirtError(
        f"operation failed: {message}", VIR_ERR_OPERATION_FAILED, VIR_FROM_DOMAIN
    )


_STORE = _Store()


# -- the API ------------------------------------------------------------------------


class virDomain:
    """A handle on a domain. Like libvirt's it caches name, UUID and ID; the
    ID changes only through operations made through this handle."""

    def __init__(self, conn, record):
        self._conn = conn
        conn._ref()
        self._uuid = record.uuid
        self._name = record.name
        self._id = record.id

    def __del__(self):
        # As virDomainFree: a handle holds its connection open until it goes.
        self._conn._unref()

    @property
    def _store(self):
        return self._conn._store

    def _record(self):
        return self._store.get(self._uuid, self._name)

    def _change(self, function, operation, flags=0, flag_check=None):
        """Run ``operation`` on the domain, checked in libvirt's order: the
        connection may write, then the driver function takes the flags."""
        self._conn._check_writable(function)
        if flag_check is not None:
            _check_flags(flags, *flag_check)
        record = operation(self._uuid, self._name)
        self._id = record.id
        return 0

    def name(self):
        return self._name

    def UUIDString(self):
        return self._uuid

    def ID(self):
        return self._id

    def XMLDesc(self, flags=0):
        if flags & VIR_DOMAIN_XML_SECURE and self._conn._readonly:
            raise libvirtError(
                "operation forbidden: virDomainGetXMLDesc with secure flag",
                VIR_ERR_OPERATION_DENIED,
                VIR_FROM_DOMAIN,
            )
        _check_flags(flags, _XML_DESC_FLAGS, "testDomainGetXMLDesc")
        with self._store.lock:
            record = self._record()
            if flags & VIR_DOMAIN_XML_INACTIVE:
                return record.config.to_xml()
            return record.current.to_xml(record.id)

    def create(self):
        return self._change("virDomainCreate", self._store.create)

    def createWithFlags(self, flags=0):
        check = (0, "testDomainCreateWithFlags")
        return self._change(
            "virDomainCreateWithFlags", self._store.create, flags, check
        )

    def destroy(self):
        return self._change("virDomainDestroy", self._store.destroy)

    def shutdown(self):
        return self._change("virDomainShutdown", self._store.shutdown)

    def reboot(self, flags=0):
        check = (_REBOOT_FLAGS, "testDomainReboot")
        return self._change("virDomainReboot", self._store.reboot, flags, check)

    def reset(self, flags=0):
        check = (0, "testDomainReset")
        return self._change("virDomainReset", self._store.reset, flags, check)

    def undefine(self):
        return self._change("virDomainUndefine", self._store.undefine)

    def undefineFlags(self, flags=0):
        check = (_UNDEFINE_FLAGS, "testDomainUndefineFlags")
        return self._change(
            "virDomainUndefineFlags", self._store.undefine, flags, check
        )

    def isActive(self):
        return int(self._record().active)

    def isPersistent(self):
        return int(self._record().persistent)

    def info(self):
        with self._store.lock:
            record = self._record()
            memory = record.current.memory
            # The test driver reports the wall clock as the CPU time.
            cpu_time = time.time_ns() // 1000 * 1000
            return [
                record.state,
                memory.total,
                memory.current,
                record.current.vcpus,
                cpu_time,
            ]

    def state(self, flags=0):
        with self._store.lock:
            record = self._record()
            return [record.state, record.reason]


class virConnect:
    def __init__(self, uri, readonly, store):
        self._store = store
        self._uri = uri
        self._readonly = readonly
        self._closed = False
        self._refs = 1  # this connection, plus one per live domain handle
        self._store.acquire()

    def __del__(self):
        # An unclosed connection that is dropped closes, as libvirt's does.
        if not getattr(self, "_closed", True):
            self._closed = True
            self._unref()

    def _ref(self):
        with self._store.lock:
            self._refs += 1

    def _unref(self):
        with self._store.lock:
            self._refs -= 1
            if self._refs == 0:
                self._store.release()

    def _check_open(self, function):
        if self._closed:
            # What libvirt-python 9.0 reports; only close() says no domain.
            closing = function == "virConnectClose"
            raise libvirtError(
                f"invalid connection pointer in {function}",
                VIR_ERR_INVALID_CONN,
                VIR_FROM_NONE if closing else VIR_FROM_DOMAIN,
            )

    def _check_writable(self, function):
        if self._readonly:
            raise libvirtError(
                f"operation forbidden: read only access prevents {function}",
                VIR_ERR_OPERATION_DENIED,
                VIR_FROM_DOMAIN,
            )

    def close(self):
        self._check_open("virConnectClose")
        self._closed = True
        with self._store.lock:
            self._unref()
            # 1 while domain handles still hold the connection, as libvirt.
            return 1 if self._refs else 0

    def isAlive(self):
        self._check_open("virConnectIsAlive")
        return 1

    def getURI(self):
        self._check_open("virConnectGetURI")
        return self._uri

    def getType(self):
        self._check_open("virConnectGetType")
        return "TEST"

    def getVersion(self):
        self._check_open("virConnectGetVersion")
        return _TEST_HV_VERSION

    def getLibVersion(self):
        self._check_open("virConnectGetLibVersion")
        return _LIB_VERSION

    def getHostname(self):
        self._check_open("virConnectGetHostname")
        return _hostname()

    def getInfo(self):
        self._check_open("virNodeGetInfo")
        return list(self._store.node_info)

    def defineXML(self, xml):
        self._check_open("virDomainDefineXML")
        self._check_writable("virDomainDefineXML")
        record = self._store.define(_Definition(xml))
        return virDomain(self, record)

    def lookupByName(self, name):
        self._check_open("virDomainLookupByName")
        return virDomain(self, self._store.by_name(name))

    def lookupByUUIDString(self, uuidstr):
        self._check_open("virDomainLookupByUUIDString")
        return virDomain(self, self._store.by_uuid(uuidstr))

    def listAllDomains(self, flags=0):
        self._check_open("virConnectListAllDomains")
        _check_flags(flags, _LIST_FLAGS, "testConnectListAllDomains")
        return [
            virDomain(self, record)
            for record in self._store.records()
            if _matches(record.list_flags(), flags)
        ]

    def listDomainsID(self):
        self._check_open("virConnectNumOfDomains")
        return [record.id for record in self._store.records() if record.active]

    def listDefinedDomains(self):
        self._check_open("virConnectNumOfDefinedDomains")
        return [r.name for r in self._store.records() if not r.active and r.persistent]


def _matches(domain_flags, wanted):
    return all(
        not wanted & group or wanted & group & domain_flags
        for group in _LIST_FILTER_GROUPS
    )


def _hostname():
    """The host's name as libvirt's virGetHostname finds it: the canonical
    name when the node name is not already qualified."""
    name = socket.gethostname()
    if "." in name or name.startswith("localhost"):
        return name
    try:
        info = socket.getaddrinfo(name, None, flags=socket.AI_CANONNAME)
    except OSError:
        return name
    canonical = info[0][3] if info else ""
    if not canonical or canonical.startswith("localhost"):
        return name
    return canonical


def open(name=None):  # shadows the builtin, as libvirt's own does
    return _open(name, readonly=False)


def openReadOnly(name=None):
    return _open(name, readonly=True)


def _open(uri, readonly):
    if uri == _URI:
        return virConnect(uri, readonly, _STORE)
    path = _node_file_path(uri)
    if path is None:
        raise libvirtError(
            f"no connection driver available for {uri}",
            VIR_ERR_NO_CONNECT,
            VIR_FROM_NONE,
        )
    store = _Store(_read_node_file(path), default_domain=False)
    return virConnect(uri, readonly, store)


def _node_file_path(uri):
    """The node file a ``test:///path`` URI names; None for other URIs."""
    if uri is None or not uri.startswith("test://"):
        return None
    path = uri[len("test://") :]
    if path in ("", "/"):
        raise libvirtError(
            "invalid argument: testOpen: supply a path or use test:///default",
            VIR_ERR_INVALID_ARG,
            VIR_FROM_TEST,
        )
    # test://host/... goes to a remote libvirtd, which the fake has not got.
    return path if path.startswith("/") else None


def _read_node_file(path):
    """getInfo()'s answer for the node file at ``path``.

    The test driver gives every connection to a node file a hypervisor of its
    own, starting with the domains the file describes. The fake starts empty,
    so it refuses files that describe any rather than leave them out."""
    try:
        with builtins.open(path, encoding="utf-8") as node_file:
            text = node_file.read()
    except (OSError, UnicodeDecodeError):
        raise _xml_error(f"failed to parse xml document '{path}'", VIR_FROM_TEST)
    root, _prefixes = _parse_document(text, path, VIR_FROM_TEST)
    if root.tag != "node":
        raise _xml_error(
            f"expecting root element of 'node', not '{root.tag}'", VIR_FROM_XML
        )
    if root.find("domain") is not None:
        raise libvirtError(
            "this function is not supported by the connection driver: "
            "pmemtrack's fake libvirt does not load domains from node files",
            VIR_ERR_NO_SUPPORT,
            VIR_FROM_TEST,
        )
    return _node_info(root)


def _node_info(root):
    counts = [_node_number(root, f"cpu/{name}", d) for name, d in _NODE_CPU_DEFAULTS]
    nodes, sockets, cores, threads = counts
    active = _node_number(root, "cpu/active", nodes * sockets * cores * threads)
    mhz = _node_number(root, "cpu/mhz", _NODE_INFO[3])
    memory_kib = _node_number(root, "memory", _NODE_INFO[1] * 1024)
    model = root.findtext("cpu/model") or _NODE_INFO[0]
    return [model, memory_kib // 1024, active, mhz, *counts]


def _node_number(root, path, default):
    text = root.findtext(path)
    if text is None:
        return default
    if not _is_number(text.strip()):
        what = path.replace("/", " ")
        raise _xml_error(f"invalid node {what} value", VIR_FROM_TEST)
    return int(text)


def getVersion(name=None):
    return _LIB_VERSION if name is None else (_LIB_VERSION, _LIB_VERSION)


def registerErrorHandler(f, ctx):
    """Accepted and ignored: the fake never prints errors, it only raises."""
    return 1


def reset():
    """Put the test driver back as a fresh process finds it: only the running
    "test" domain, and domain IDs counting from 2 again. For tests."""
    _STORE.restore()
