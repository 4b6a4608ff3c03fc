"""The fake libvirt held to the real one: every test here runs twice, once on
pmemtrack's fake and once on libvirt-python, with the same assertions against
libvirt's ``test:///default`` driver (libvirt 9.0.0 when they were written)."""

import importlib
import pathlib
import subprocess
import sys
from xml.etree import ElementTree

import pytest

from pmemtrack.virt.libvirt import fakelibvirt
from tests.fixtures import databases
from tests.fixtures import libvirt_schema

URI = "test:///default"
DEFAULT_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"
REPO = pathlib.Path(__file__).resolve().parents[3]

# 1 GiB of RAM in one guest NUMA cell, plus one 4292870144-byte namespace.
RAM_KIB = 1048576
NVDIMM_KIB = 4192256
TOTAL_KIB = RAM_KIB + NVDIMM_KIB
NUMA = "<cpu><numa><cell id='0' cpus='0' memory='1048576' unit='KiB'/></numa></cpu>"


def _real_libvirt():
    try:
        module = importlib.import_module("libvirt")
    except ImportError:
        databases.unavailable("libvirt", "libvirt-python is not installed")
    # The real module also prints every error; the tests only want them raised.
    module.registerErrorHandler(lambda _ctx, _err: None, None)
    return module


@pytest.fixture(params=["fake", "real"])
def lv(request):
    if request.param == "real":
        return _real_libvirt()
    fakelibvirt.reset()
    return fakelibvirt


@pytest.fixture
def conn(lv):
    """A connection to test:///default; the domains a test adds go after it."""
    conn = lv.open(URI)
    before = {domain.UUIDString() for domain in conn.listAllDomains()}

    def added():
        return [d for d in conn.listAllDomains() if d.UUIDString() not in before]

    yield conn
    for domain in added():
        if domain.isActive():
            domain.destroy()
    for domain in added():
        domain.undefine()
    conn.close()


def nvdimm(
    path="/dev/dax0.0",
    model="nvdimm",
    access="shared",
    size=f"<size unit='KiB'>{NVDIMM_KIB}</size>",
    node="<node>0</node>",
    label="<label><size unit='KiB'>2048</size></label>",
):
    """One <memory> device; None leaves a part out."""
    attrs = "".join(
        f" {name}='{value}'"
        for name, value in (("model", model), ("access", access))
        if value is not None
    )
    path = "" if path is None else f"<path>{path}</path>"
    source = f"<source>{path}<alignsize unit='KiB'>2048</alignsize><pmem/></source>"
    target = f"<target>{size or ''}{node or ''}{label or ''}</target>"
    return f"<memory{attrs}>{source}{target}</memory>"


def domain_xml(
    name="d1",
    uuid=None,
    memory=f"<memory unit='KiB'>{TOTAL_KIB}</memory>",
    max_memory=f"<maxMemory slots='1' unit='KiB'>{TOTAL_KIB}</maxMemory>",
    numa=NUMA,
    devices=None,
    extra="",
):
    """An nvdimm guest libvirt takes as it is; each argument bends one part."""
    devices = nvdimm() if devices is None else devices
    uuid = "" if uuid is None else f"<uuid>{uuid}</uuid>"
    return (
        f"<domain type='test'><name>{name}</name>{uuid}{memory}{max_memory}"
        "<vcpu>1</vcpu><os><type>hvm</type></os><features><acpi/></features>"
        f"{numa}{extra}<devices>{devices}</devices></domain>"
    )


def _error(lv, code, call, *args):
    with pytest.raises(lv.libvirtError) as caught:
        call(*args)
    assert caught.value.get_error_code() == code, caught.value
    return caught.value


def _paths(xml):
    root = ElementTree.fromstring(xml)
    return [e.findtext("source/path") for e in root.findall("devices/memory")]


def _names(domains):
    return sorted(domain.name() for domain in domains)


# -- the driver as it starts ------------------------------------------------------


def test_constants_match_libvirt():
    real = _real_libvirt()
    names = [name for name in vars(fakelibvirt) if name.startswith("VIR_")]
    assert names
    for name in names:
        assert getattr(fakelibvirt, name) == getattr(real, name), name


def test_starts_with_the_running_test_domain(conn, lv):
    domain = conn.lookupByName("test")

    assert domain.UUIDString() == DEFAULT_UUID
    assert (domain.isActive(), domain.isPersistent()) == (1, 1)
    assert domain.state() == [lv.VIR_DOMAIN_RUNNING, lv.VIR_DOMAIN_RUNNING_UNKNOWN]
    assert domain.info()[:4] == [lv.VIR_DOMAIN_RUNNING, 8388608, 2097152, 2]
    assert domain.ID() in conn.listDomainsID()


def test_host_information(conn, lv):
    assert conn.getType() == "TEST"
    assert conn.getVersion() == 2
    assert conn.getLibVersion() == lv.getVersion()
    assert conn.getInfo() == ["i686", 3072, 16, 1400, 2, 2, 2, 2]
    assert conn.isAlive() == 1
    assert isinstance(conn.getHostname(), str) and conn.getHostname()


# -- lifecycle --------------------------------------------------------------------


def test_define_start_destroy_undefine(conn, lv):
    domain = conn.defineXML(domain_xml())
    assert domain.state() == [lv.VIR_DOMAIN_SHUTOFF, lv.VIR_DOMAIN_SHUTOFF_UNKNOWN]
    assert (domain.ID(), domain.isActive(), domain.isPersistent()) == (-1, 0, 1)
    assert "d1" in conn.listDefinedDomains()

    assert domain.create() == 0
    assert domain.state() == [lv.VIR_DOMAIN_RUNNING, lv.VIR_DOMAIN_RUNNING_BOOTED]
    assert domain.ID() > 1 and domain.ID() in conn.listDomainsID()
    assert conn.lookupByName("d1").ID() == domain.ID()
    assert domain.info()[:4] == [lv.VIR_DOMAIN_RUNNING, TOTAL_KIB, TOTAL_KIB, 1]

    assert domain.destroy() == 0
    assert domain.state() == [lv.VIR_DOMAIN_SHUTOFF, lv.VIR_DOMAIN_SHUTOFF_DESTROYED]
    assert domain.ID() == -1

    assert domain.undefine() == 0
    _error(lv, lv.VIR_ERR_NO_DOMAIN, conn.lookupByName, "d1")


def test_reboot_and_reset_keep_the_domain_running(conn, lv):
    domain = conn.defineXML(domain_xml())
    domain.createWithFlags(0)
    first_id = domain.ID()

    assert domain.reboot(lv.VIR_DOMAIN_REBOOT_DEFAULT) == 0
    assert domain.reset(0) == 0
    assert domain.ID() == first_id
    assert domain.state() == [lv.VIR_DOMAIN_RUNNING, lv.VIR_DOMAIN_RUNNING_BOOTED]


def test_shutdown_then_start_gives_a_new_id(conn, lv):
    domain = conn.defineXML(domain_xml())
    domain.create()
    first_id = domain.ID()

    assert domain.shutdown() == 0
    assert domain.state() == [lv.VIR_DOMAIN_SHUTOFF, lv.VIR_DOMAIN_SHUTOFF_SHUTDOWN]
    domain.create()
    assert domain.ID() > first_id


@pytest.mark.parametrize(
    "event, action, operation, running",
    [
        ("on_reboot", "destroy", "reboot", False),
        ("on_reboot", "preserve", "reboot", False),
        ("on_poweroff", "restart", "shutdown", True),
        ("on_reboot", "destroy", "reset", True),
    ],
)
def test_lifecycle_actions(conn, event, action, operation, running):
    domain = conn.defineXML(domain_xml(extra=f"<{event}>{action}</{event}>"))
    domain.create()

    getattr(domain, operation)()

    assert domain.isActive() == int(running)


def test_operations_in_the_wrong_state(conn, lv):
    domain = conn.defineXML(domain_xml())
    for call in (domain.destroy, domain.reboot, domain.reset):
        err = _error(lv, lv.VIR_ERR_OPERATION_INVALID, call)
        assert err.get_error_message() == (
            "Requested operation is not valid: domain is not running"
        )
    # The test driver reports these two as internal errors, not invalid ones.
    err = _error(lv, lv.VIR_ERR_INTERNAL_ERROR, domain.shutdown)
    assert err.get_error_message() == "internal error: domain 'd1' not running"
    domain.create()
    for call in (domain.create, domain.createWithFlags):
        err = _error(lv, lv.VIR_ERR_INTERNAL_ERROR, call)
        assert (
            err.get_error_message() == "internal error: Domain 'd1' is already running"
        )


def test_undefining_a_running_domain_leaves_it_transient(conn, lv):
    domain = conn.defineXML(domain_xml())
    domain.create()

    domain.undefine()

    assert (domain.isActive(), domain.isPersistent()) == (1, 0)
    assert "d1" not in conn.listDefinedDomains()
    transient = conn.listAllDomains(lv.VIR_CONNECT_LIST_DOMAINS_TRANSIENT)
    assert _names(transient) == ["d1"]
    domain.destroy()
    _error(lv, lv.VIR_ERR_NO_DOMAIN, conn.lookupByName, "d1")


# -- the XML given back --------------------------------------------------------------


def test_xml_round_trip_keeps_nvdimms_in_kib(conn):
    domain = conn.defineXML(domain_xml())
    root = ElementTree.fromstring(domain.XMLDesc(0))

    assert root.get("id") is None
    assert root.findtext("uuid") == domain.UUIDString()
    for tag in ("memory", "currentMemory", "maxMemory"):
        assert root.find(tag).attrib.get("unit") == "KiB"
        assert root.findtext(tag) == str(TOTAL_KIB)
    assert root.find("maxMemory").get("slots") == "1"
    cell = root.find("cpu/numa/cell")
    assert (cell.get("memory"), cell.get("unit")) == (str(RAM_KIB), "KiB")
    device = root.find("devices/memory")
    assert device.attrib == {"model": "nvdimm", "access": "shared"}
    assert device.findtext("source/path") == "/dev/dax0.0"
    for path, kib in (
        ("source/alignsize", "2048"),
        ("target/size", str(NVDIMM_KIB)),
        ("target/label/size", "2048"),
    ):
        assert (device.findtext(path), device.find(path).get("unit")) == (kib, "KiB")
    assert device.findtext("target/node") == "0"


def test_running_xml_carries_the_id(conn, lv):
    domain = conn.defineXML(domain_xml())
    domain.create()

    live = ElementTree.fromstring(domain.XMLDesc(0))
    inactive = ElementTree.fromstring(domain.XMLDesc(lv.VIR_DOMAIN_XML_INACTIVE))

    assert live.get("id") == str(domain.ID())
    assert inactive.get("id") is None


def test_xml_sizes_are_rounded_up_to_kib(conn):
    xml = domain_xml(
        memory="<memory unit='b'>5366625281</memory>",
        max_memory="<maxMemory slots='1' unit='GiB'>8</maxMemory>",
        devices=nvdimm(
            size="<size unit='b'>4292870145</size>",
            label="<label><size unit='b'>131073</size></label>",
        ),
    )
    root = ElementTree.fromstring(conn.defineXML(xml).XMLDesc(0))

    assert root.findtext("memory") == "5240846"
    assert root.findtext("maxMemory") == "8388608"
    assert root.findtext("devices/memory/target/size") == "4192257"
    assert root.findtext("devices/memory/target/label/size") == "129"


@pytest.mark.parametrize(
    "unit, value, kib",
    [
        ("KiB", 5240832, 5240832),
        ("k", 5240832, 5240832),
        ("KB", 5366612, 5240833),
        ("bytes", 5366611968, 5240832),
        ("MiB", 5118, 5240832),
        ("mb", 5367, 5241211),
        ("G", 5, 5242880),
        ("GB", 6, 5859375),
    ],
)
def test_memory_units(conn, unit, value, kib):
    xml = domain_xml(
        memory=f"<memory unit='{unit}'>{value}</memory>",
        max_memory="<maxMemory slots='1' unit='TiB'>1</maxMemory>",
    )

    assert conn.defineXML(xml).info()[1] == kib


def test_absent_memory_is_numa_cells_plus_devices(conn):
    domain = conn.defineXML(domain_xml(memory=""))

    assert domain.info()[1:3] == [TOTAL_KIB, TOTAL_KIB]
    assert ElementTree.fromstring(domain.XMLDesc(0)).findtext("memory") == str(
        TOTAL_KIB
    )


def test_given_memory_is_kept_even_when_cells_say_otherwise(conn):
    domain = conn.defineXML(
        domain_xml(
            memory="<memory unit='KiB'>8388608</memory>",
            max_memory="<maxMemory slots='1' unit='KiB'>8388608</maxMemory>",
        )
    )

    assert domain.info()[1] == 8388608


def test_current_memory_is_capped_at_memory(conn):
    below = "<currentMemory unit='KiB'>1048576</currentMemory>"
    above = "<currentMemory unit='KiB'>9999999</currentMemory>"

    lower = conn.defineXML(domain_xml(name="below", extra=below))
    capped = conn.defineXML(domain_xml(name="above", extra=above))

    assert lower.info()[1:3] == [TOTAL_KIB, RAM_KIB]
    assert capped.info()[1:3] == [TOTAL_KIB, TOTAL_KIB]


def test_xml_is_valid_against_libvirt_schema(conn):
    domain = conn.defineXML(domain_xml())
    libvirt_schema.assert_valid_domain(domain.XMLDesc(0))
    domain.create()
    libvirt_schema.assert_valid_domain(domain.XMLDesc(0))


# -- what libvirt refuses and takes -----------------------------------------------

XML_ERROR = fakelibvirt.VIR_ERR_XML_ERROR
XML_DETAIL = fakelibvirt.VIR_ERR_XML_DETAIL


@pytest.mark.parametrize(
    "kwargs, code, message",
    [
        pytest.param(
            # The sample nvdimm domain with <memory> counting only its RAM:
            # <memory> has to count the nvdimm as well.
            {"memory": f"<memory unit='KiB'>{RAM_KIB}</memory>"},
            XML_ERROR,
            "XML error: Total size of memory devices exceeds the total memory size",
            id="memory-below-device-total",
        ),
        pytest.param(
            {"memory": "", "numa": ""},
            XML_ERROR,
            "XML error: Total size of memory devices exceeds the total memory size",
            id="no-memory-and-no-numa",
        ),
        pytest.param(
            {"memory": f"<memory unit='KiB'>{NVDIMM_KIB}</memory>"},
            XML_ERROR,
            "XML error: Memory size must be specified via <memory> or in the "
            "<numa> configuration",
            id="memory-only-the-devices",
        ),
        pytest.param(
            {"max_memory": f"<maxMemory unit='KiB'>{TOTAL_KIB}</maxMemory>"},
            XML_ERROR,
            "XML error: both maximum memory size and memory slot count must be "
            "specified",
            id="max-memory-without-slots",
        ),
        pytest.param(
            {"max_memory": "<maxMemory slots='2'/>"},
            XML_ERROR,
            "XML error: both maximum memory size and memory slot count must be "
            "specified",
            id="slots-without-max-memory",
        ),
        pytest.param(
            {
                "max_memory": f"<maxMemory slots='1' unit='KiB'>{TOTAL_KIB - 1}</maxMemory>"
            },
            XML_ERROR,
            "XML error: maximum memory size must be equal or greater than the "
            "actual memory size",
            id="max-memory-below-memory",
        ),
        pytest.param(
            {"devices": nvdimm(label="<label><size unit='KiB'>127</size></label>")},
            XML_ERROR,
            "XML error: nvdimm label must be at least 128KiB",
            id="label-below-128KiB",
        ),
        pytest.param(
            {"devices": nvdimm(label=f"<label><size>{NVDIMM_KIB}</size></label>")},
            XML_ERROR,
            "XML error: label size must be smaller than NVDIMM size",
            id="label-as-big-as-the-nvdimm",
        ),
        pytest.param(
            {"devices": nvdimm(size="<size unit='KiB'>0</size>", label=None)},
            XML_ERROR,
            "XML error: label size must be smaller than NVDIMM size",
            id="empty-nvdimm",
        ),
        pytest.param(
            {"devices": nvdimm(model="foo")},
            XML_ERROR,
            "XML error: Invalid value for attribute 'model' in element 'memory': 'foo'.",
            id="bad-model",
        ),
        pytest.param(
            {"devices": nvdimm(model=None)},
            XML_ERROR,
            "XML error: Missing required attribute 'model' in element 'memory'",
            id="no-model",
        ),
        pytest.param(
            {"devices": nvdimm(access="foo")},
            XML_ERROR,
            "XML error: Invalid value for attribute 'access' in element 'memory': "
            "'foo'.",
            id="bad-access",
        ),
        pytest.param(
            {"devices": nvdimm(path=None)},
            XML_DETAIL,
            "path is required for model 'nvdimm'",
            id="no-source-path",
        ),
        pytest.param(
            {"devices": nvdimm(path="")},
            XML_DETAIL,
            "path is required for model 'nvdimm'",
            id="empty-source-path",
        ),
        pytest.param(
            {"devices": nvdimm(size=None)},
            XML_ERROR,
            "XML error: missing element or attribute './size'",
            id="no-target-size",
        ),
        pytest.param(
            {"devices": nvdimm(size="<size>4G</size>")},
            XML_ERROR,
            "XML error: Invalid value '4G' for element or attribute './size'",
            id="bad-target-size",
        ),
        pytest.param(
            {"devices": nvdimm(node="<node>1</node>")},
            XML_DETAIL,
            "can't add memory backend for guest node '1' as the guest has only '1' "
            "NUMA nodes configured",
            id="node-beyond-the-numa-cells",
        ),
        pytest.param(
            {"numa": ""},
            XML_DETAIL,
            "can't add memory backend as guest has no NUMA nodes configured",
            id="node-without-guest-numa",
        ),
        pytest.param(
            {"devices": nvdimm(node="<node>-1</node>")},
            XML_ERROR,
            "XML error: invalid value of memory device node",
            id="bad-node",
        ),
        pytest.param(
            {"memory": "<memory unit='foo'>1</memory>"},
            fakelibvirt.VIR_ERR_INVALID_ARG,
            "invalid argument: unknown suffix 'foo'",
            id="unknown-unit",
        ),
        pytest.param(
            {"memory": "<memory unit='KiB'>5.5</memory>"},
            XML_ERROR,
            "XML error: Invalid value '5.5' for element or attribute './memory[1]'",
            id="fractional-memory",
        ),
        pytest.param(
            {"name": "a/b"},
            XML_ERROR,
            "XML error: name a/b cannot contain '/'",
            id="slash-in-name",
        ),
        pytest.param(
            {"uuid": "not-a-uuid"},
            fakelibvirt.VIR_ERR_INTERNAL_ERROR,
            "internal error: malformed uuid element",
            id="malformed-uuid",
        ),
        pytest.param(
            {"extra": "<on_reboot>coredump-destroy</on_reboot>"},
            fakelibvirt.VIR_ERR_CONFIG_UNSUPPORTED,
            "unsupported configuration: Lifecycle event 'reboot' doesn't support "
            "'coredump-destroy' action",
            id="coredump-on-reboot",
        ),
    ],
)
def test_rejected(conn, lv, kwargs, code, message):
    err = _error(lv, code, conn.defineXML, domain_xml(**kwargs))

    assert err.get_error_message() == message
    _error(lv, lv.VIR_ERR_NO_DOMAIN, conn.lookupByName, kwargs.get("name", "d1"))


def test_malformed_xml_is_rejected(conn, lv):
    # The wording is libxml2's in one and expat's in the other; the code agrees.
    _error(lv, lv.VIR_ERR_XML_DETAIL, conn.defineXML, "<domain type='test'")


@pytest.mark.parametrize(
    "kwargs, total_kib, paths",
    [
        pytest.param(
            {"max_memory": ""}, TOTAL_KIB, ["/dev/dax0.0"], id="no-max-memory"
        ),
        pytest.param(
            {
                "memory": f"<memory unit='KiB'>{TOTAL_KIB + NVDIMM_KIB}</memory>",
                "max_memory": "<maxMemory slots='1' unit='GiB'>16</maxMemory>",
                "devices": nvdimm() + nvdimm(path="/dev/dax1.0"),
            },
            TOTAL_KIB + NVDIMM_KIB,
            ["/dev/dax0.0", "/dev/dax1.0"],
            id="more-devices-than-slots",
        ),
        pytest.param(
            {"devices": nvdimm(node=None)}, TOTAL_KIB, ["/dev/dax0.0"], id="no-node"
        ),
        pytest.param(
            {"numa": "", "devices": nvdimm(node=None)},
            TOTAL_KIB,
            ["/dev/dax0.0"],
            id="no-node-and-no-numa",
        ),
        pytest.param(
            {"devices": nvdimm(label=None)}, TOTAL_KIB, ["/dev/dax0.0"], id="no-label"
        ),
        pytest.param(
            {"devices": nvdimm(label="<label><size unit='KiB'>128</size></label>")},
            TOTAL_KIB,
            ["/dev/dax0.0"],
            id="smallest-label",
        ),
        pytest.param(
            {
                "memory": f"<memory unit='KiB'>{TOTAL_KIB + 1}</memory>",
                "max_memory": f"<maxMemory slots='1'>{TOTAL_KIB + 1}</maxMemory>",
                "devices": nvdimm(size=f"<size unit='KiB'>{NVDIMM_KIB + 1}</size>"),
            },
            TOTAL_KIB + 1,
            ["/dev/dax0.0"],
            id="unaligned-sizes",
        ),
        pytest.param(
            {"devices": nvdimm(path="dax0.0")},
            TOTAL_KIB,
            ["dax0.0"],
            id="relative-path",
        ),
        pytest.param(
            {
                "memory": f"<memory unit='KiB'>{TOTAL_KIB + NVDIMM_KIB}</memory>",
                "max_memory": "",
                "devices": nvdimm() + nvdimm(),
            },
            TOTAL_KIB + NVDIMM_KIB,
            ["/dev/dax0.0", "/dev/dax0.0"],
            id="duplicate-paths",
        ),
        pytest.param(
            {"devices": nvdimm(access=None)}, TOTAL_KIB, ["/dev/dax0.0"], id="no-access"
        ),
        pytest.param(
            {"devices": nvdimm(access="private")},
            TOTAL_KIB,
            ["/dev/dax0.0"],
            id="private-access",
        ),
    ],
)
def test_accepted(conn, lv, kwargs, total_kib, paths):
    domain = conn.defineXML(domain_xml(**kwargs))
    domain.create()

    assert domain.info()[1] == total_kib
    assert _paths(domain.XMLDesc(0)) == paths
    assert _paths(domain.XMLDesc(lv.VIR_DOMAIN_XML_INACTIVE)) == paths


def test_no_label_is_written_when_none_or_zero_is_given(conn):
    for label in (None, "<label><size unit='KiB'>0</size></label>"):
        domain = conn.defineXML(domain_xml(devices=nvdimm(label=label)))
        root = ElementTree.fromstring(domain.XMLDesc(0))
        assert root.find("devices/memory/target/label") is None
        domain.undefine()


# -- defining over what exists ------------------------------------------------------


def test_defining_a_taken_name_needs_the_same_uuid(conn, lv):
    uuid = conn.defineXML(domain_xml()).UUIDString()
    taken = f"operation failed: domain 'd1' already exists with uuid {uuid}"

    other = "11111111-2222-3333-4444-555555555555"
    err = _error(
        lv, lv.VIR_ERR_OPERATION_FAILED, conn.defineXML, domain_xml(uuid=other)
    )
    assert err.get_error_message() == taken
    # Without a <uuid> libvirt makes a new one up, so that clashes as well.
    err = _error(lv, lv.VIR_ERR_OPERATION_FAILED, conn.defineXML, domain_xml())
    assert err.get_error_message() == taken


def test_a_uuid_keeps_its_name(conn, lv):
    uuid = conn.defineXML(domain_xml()).UUIDString()

    err = _error(
        lv,
        lv.VIR_ERR_OPERATION_FAILED,
        conn.defineXML,
        domain_xml(name="d2", uuid=uuid),
    )

    assert err.get_error_message() == (
        f"operation failed: domain 'd1' is already defined with uuid {uuid}"
    )


def test_redefining_replaces_the_config(conn, lv):
    uuid = conn.defineXML(domain_xml()).UUIDString()

    domain = conn.defineXML(domain_xml(uuid=uuid, devices=nvdimm(path="/dev/dax1.0")))

    assert _paths(domain.XMLDesc(0)) == ["/dev/dax1.0"]
    assert _names(conn.listAllDomains()) == ["d1", "test"]


def test_redefining_a_running_domain_waits_for_it_to_stop(conn, lv):
    domain = conn.defineXML(domain_xml())
    domain.create()
    new = domain_xml(uuid=domain.UUIDString(), devices=nvdimm(path="/dev/dax1.0"))

    conn.defineXML(new)

    assert _paths(domain.XMLDesc(0)) == ["/dev/dax0.0"]
    assert _paths(domain.XMLDesc(lv.VIR_DOMAIN_XML_INACTIVE)) == ["/dev/dax1.0"]
    domain.destroy()
    assert _paths(domain.XMLDesc(0)) == ["/dev/dax1.0"]


# -- lookups and listings ---------------------------------------------------------------


def test_lookup_errors(conn, lv):
    err = _error(lv, lv.VIR_ERR_NO_DOMAIN, conn.lookupByName, "nope")
    assert err.get_error_message() == "Domain not found"
    missing = "11111111-2222-3333-4444-555555555555"
    _error(lv, lv.VIR_ERR_NO_DOMAIN, conn.lookupByUUIDString, missing)
    err = _error(lv, lv.VIR_ERR_INVALID_ARG, conn.lookupByUUIDString, "nope")
    assert err.get_error_message() == "Invalid UUID"


def test_lookup_by_uuid_takes_libvirts_spellings(conn):
    for spelling in (
        DEFAULT_UUID,
        DEFAULT_UUID.upper(),
        DEFAULT_UUID.replace("-", ""),
        f" {DEFAULT_UUID} ",
    ):
        assert conn.lookupByUUIDString(spelling).name() == "test"


def test_a_handle_outlives_its_domain(conn, lv):
    domain = conn.defineXML(domain_xml())
    uuid = domain.UUIDString()
    domain.undefine()

    assert (domain.name(), domain.UUIDString(), domain.ID()) == ("d1", uuid, -1)
    err = _error(lv, lv.VIR_ERR_NO_DOMAIN, domain.state)
    assert err.get_error_message() == (
        f"Domain not found: no domain with matching uuid '{uuid}' (d1)"
    )
    for call in (domain.info, domain.XMLDesc, domain.create, domain.undefine):
        _error(lv, lv.VIR_ERR_NO_DOMAIN, call)


def test_list_all_domains_flags(conn, lv):
    conn.defineXML(domain_xml(name="off"))
    on = conn.defineXML(domain_xml(name="on"))
    on.create()
    on.undefine()  # running and transient now

    def listed(flags):
        return _names(conn.listAllDomains(flags))

    assert listed(0) == ["off", "on", "test"]
    assert listed(lv.VIR_CONNECT_LIST_DOMAINS_ACTIVE) == ["on", "test"]
    assert listed(lv.VIR_CONNECT_LIST_DOMAINS_INACTIVE) == ["off"]
    assert listed(lv.VIR_CONNECT_LIST_DOMAINS_PERSISTENT) == ["off", "test"]
    assert listed(lv.VIR_CONNECT_LIST_DOMAINS_TRANSIENT) == ["on"]
    assert listed(lv.VIR_CONNECT_LIST_DOMAINS_SHUTOFF) == ["off"]
    both = lv.VIR_CONNECT_LIST_DOMAINS_ACTIVE | lv.VIR_CONNECT_LIST_DOMAINS_INACTIVE
    assert listed(both) == ["off", "on", "test"]
    # Groups combine as "and": nothing is inactive and running at once.
    assert (
        listed(
            lv.VIR_CONNECT_LIST_DOMAINS_INACTIVE | lv.VIR_CONNECT_LIST_DOMAINS_RUNNING
        )
        == []
    )
    assert conn.listDefinedDomains() == ["off"]
    assert sorted(conn.listDomainsID()) == sorted(
        [on.ID(), conn.lookupByName("test").ID()]
    )


def test_unsupported_flags(conn, lv):
    domain = conn.defineXML(domain_xml())
    err = _error(
        lv, lv.VIR_ERR_INVALID_ARG, domain.undefineFlags, lv.VIR_DOMAIN_UNDEFINE_NVRAM
    )
    assert err.get_error_message() == (
        "unsupported flags (0x4) in function testDomainUndefineFlags"
    )
    _error(lv, lv.VIR_ERR_INVALID_ARG, domain.XMLDesc, lv.VIR_DOMAIN_XML_UPDATE_CPU)
    _error(lv, lv.VIR_ERR_INVALID_ARG, domain.createWithFlags, 1)
    _error(lv, lv.VIR_ERR_INVALID_ARG, conn.listAllDomains, 1 << 16)

    assert domain.undefineFlags(lv.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE) == 0


# -- connections -------------------------------------------------------------------------


def test_connections_share_the_domains(conn, lv):
    other = lv.open(URI)
    try:
        other.defineXML(domain_xml()).create()
        domain = conn.lookupByName("d1")
        assert domain.isActive() == 1
        domain.destroy()
        assert other.lookupByName("d1").isActive() == 0
    finally:
        other.close()


def test_read_only_connection(conn, lv):
    conn.defineXML(domain_xml())
    reader = lv.openReadOnly(URI)
    try:
        domain = reader.lookupByName("d1")
        assert _paths(domain.XMLDesc(0)) == ["/dev/dax0.0"]
        for call, args in (
            (reader.defineXML, (domain_xml(name="d2"),)),
            (domain.create, ()),
            (domain.undefine, ()),
            (domain.XMLDesc, (lv.VIR_DOMAIN_XML_SECURE,)),
        ):
            _error(lv, lv.VIR_ERR_OPERATION_DENIED, call, *args)
        err = _error(lv, lv.VIR_ERR_OPERATION_DENIED, domain.destroy)
        assert err.get_error_message() == (
            "operation forbidden: read only access prevents virDomainDestroy"
        )
    finally:
        reader.close()


def test_a_closed_connection_refuses_calls(conn, lv):
    other = lv.open(URI)

    assert other.close() == 0  # no domain handles hold it

    _error(lv, lv.VIR_ERR_INVALID_CONN, other.isAlive)
    _error(lv, lv.VIR_ERR_INVALID_CONN, other.lookupByName, "test")
    _error(lv, lv.VIR_ERR_INVALID_CONN, other.close)


def test_only_the_default_test_uri_opens(lv):
    # Real libvirt hands other URIs to libvirtd, which is not there (or, when
    # it is, knows no "pmemtrack" driver either); the fake has no other driver.
    with pytest.raises(lv.libvirtError):
        lv.open("pmemtrack-nosuch:///system")


def test_a_node_file_gives_each_connection_its_own_hypervisor(lv, tmp_path):
    node = tmp_path / "node.xml"
    node.write_text("<node><cpu><mhz>2000</mhz></cpu></node>\n")
    uri = f"test://{node}"
    first, second, default = lv.open(uri), lv.open(uri), lv.open(URI)
    try:
        domain = first.defineXML(domain_xml())
        domain.create()

        assert first.getInfo() == ["i686", 3072, 16, 2000, 2, 2, 2, 2]
        assert (first.getURI(), first.getType()) == (uri, "TEST")
        assert domain.ID() == 1  # no "test" domain here to have taken it
        assert _names(first.listAllDomains()) == ["d1"]
        assert second.listAllDomains() == []
        assert "d1" not in _names(default.listAllDomains())
    finally:
        for conn in (first, second, default):
            conn.close()


@pytest.mark.parametrize(
    "path, body, code",
    [
        ("missing.xml", None, fakelibvirt.VIR_ERR_XML_ERROR),
        ("node.xml", "<host/>", fakelibvirt.VIR_ERR_XML_ERROR),
        ("node.xml", "<node", fakelibvirt.VIR_ERR_XML_DETAIL),
        (
            "node.xml",
            "<node><cpu><mhz>fast</mhz></cpu></node>",
            fakelibvirt.VIR_ERR_XML_ERROR,
        ),
    ],
)
def test_a_bad_node_file_does_not_open(lv, tmp_path, path, body, code):
    if body is not None:
        (tmp_path / path).write_text(body)

    _error(lv, code, lv.open, f"test://{tmp_path / path}")


def test_a_test_uri_needs_a_path(lv):
    _error(lv, lv.VIR_ERR_INVALID_ARG, lv.open, "test:///")


_LAST_CLOSE_SCRIPT = """
import gc, importlib, sys
lv = importlib.import_module(sys.argv[1])
lv.registerErrorHandler(lambda _ctx, _err: None, None)
conn = lv.open("test:///default")
domain = conn.defineXML(sys.argv[2])
domain.create()
other = lv.open("test:///default")
print(conn.close(), sorted(d.name() for d in other.listAllDomains()))
print(other.close(), domain.isActive())
del domain
gc.collect()
conn = lv.open("test:///default")
print(sorted((d.name(), d.ID()) for d in conn.listAllDomains()))
"""


def test_state_goes_with_the_last_connection(lv):
    # In a process of its own: anything else holding a connection open would
    # keep the state alive.
    run = subprocess.run(
        [sys.executable, "-c", _LAST_CLOSE_SCRIPT, lv.__name__, domain_xml()],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )

    assert run.stdout.splitlines() == [
        "1 ['d1', 'test']",  # the domain handle still holds the first open
        "0 1",
        "[('test', 1)]",  # and the IDs count from 2 again
    ]


# -- the fake alone ---------------------------------------------------------------------


@pytest.fixture
def fake_conn():
    # Reset both ways: a failed test's traceback can hold a connection open,
    # and then the state would not reset itself when the test ends.
    fakelibvirt.reset()
    conn = fakelibvirt.open(URI)
    yield conn
    conn.close()
    fakelibvirt.reset()


def test_reset_brings_back_the_starting_state(fake_conn):
    fake_conn.defineXML(domain_xml())
    fake_conn.lookupByName("test").destroy()

    fakelibvirt.reset()

    assert [(d.name(), d.ID()) for d in fake_conn.listAllDomains()] == [("test", 1)]
    domain = fake_conn.defineXML(domain_xml())
    domain.create()
    assert domain.ID() == 2


def test_a_node_file_with_domains_is_refused(tmp_path):
    # The real driver would start them; the fake says plainly that it cannot.
    node = tmp_path / "node.xml"
    node.write_text(f"<node>{domain_xml()}</node>")

    with pytest.raises(fakelibvirt.libvirtError) as caught:
        fakelibvirt.open(f"test://{node}")

    assert caught.value.get_error_code() == fakelibvirt.VIR_ERR_NO_SUPPORT


def test_error_raised_without_a_code_has_no_details():
    err = fakelibvirt.libvirtError("boom")

    assert str(err) == "boom"
    assert err.get_error_code() is None and err.get_error_message() is None


def test_namespaced_metadata_is_written_back(fake_conn):
    nova = "http://openstack.org/xmlns/libvirt/nova/1.1"
    metadata = (
        f"<metadata><nova:instance xmlns:nova='{nova}'>"
        "<nova:name>a &amp; b</nova:name></nova:instance></metadata>"
    )

    xml = fake_conn.defineXML(domain_xml(extra=metadata)).XMLDesc(0)

    assert f"<nova:instance xmlns:nova='{nova}'>" in xml
    name = ElementTree.fromstring(xml).find(
        f"metadata/{{{nova}}}instance/{{{nova}}}name"
    )
    assert name.text == "a & b"
