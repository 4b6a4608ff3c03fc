"""The guest XML: golden files, libvirt's schema and the checks libvirt's test
driver does not make."""

import os
import types

import pytest

from pmemtrack import exception
from pmemtrack.virt.libvirt import config
from tests.fixtures import databases
from tests.fixtures import libvirt_schema

MiB = 1024 * 1024
GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
UUID = "6d1c9dd6-3e0c-4a5e-a3f4-8f5a3c1d2e4b"


def _device(devpath, size, align=2 * MiB):
    return types.SimpleNamespace(devpath=devpath, size=size, align=align)


def _guest(devices, memory_mb=1, vcpus=2, cells=1):
    return config.Guest(
        name="instance-00000001",
        uuid=UUID,
        memory_mb=memory_mb,
        vcpus=vcpus,
        nvdimms=config.from_devices(devices, cells),
        numa_cells=cells,
        domain_type="kvm",
    )


def _golden(name):
    with open(os.path.join(GOLDEN, name)) as f:
        return f.read().strip()


@pytest.mark.parametrize(
    "golden, guest",
    [
        # Nova's reference case: 1 MiB RAM and one 4292870144-byte namespace.
        ("one_nvdimm.xml", _guest([_device("/dev/dax0.0", 4292870144)])),
        (
            "two_cells_three_nvdimms.xml",
            _guest(
                [
                    _device("/dev/dax0.0", 4292870144),
                    _device("/dev/dax0.1", 4292870144),
                    # Not a multiple of its 2 MiB alignment: rounded down.
                    _device("/dev/dax1.0", 1 << 30 | 4096),
                ],
                memory_mb=2048,
                vcpus=4,
                cells=2,
            ),
        ),
        ("no_nvdimm.xml", _guest([], memory_mb=512)),
    ],
)
def test_rendered_xml_matches_golden_file_and_libvirt_schema(golden, guest):
    config.check(guest)
    xml = config.to_xml(guest)
    assert xml == _golden(golden)
    libvirt_schema.assert_valid_domain(xml)


def test_nova_reference_sizes():
    xml = config.to_xml(_guest([_device("/dev/dax0.0", 4292870144)]))
    # RAM + nvdimm, one slot; the target is the namespace size in KiB.
    assert '<maxMemory slots="1" unit="KiB">4193280</maxMemory>' in xml
    assert '<size unit="KiB">4192256</size>' in xml
    assert config.nvdimm_paths(xml) == ["/dev/dax0.0"]


@pytest.mark.parametrize(
    "devices, kwargs, fragment",
    [
        ([_device("dax0.0", 64 * MiB)], {}, "is not absolute"),
        (
            [_device("/dev/dax0.0", 64 * MiB), _device("/dev/dax0.0", 64 * MiB)],
            {},
            "assigned twice",
        ),
        ([_device("/dev/dax0.0", 2 * MiB)], {}, "too small for the"),
        ([_device("/dev/dax0.0", 64 * MiB, align=1000)], {}, "not whole KiB"),
        ([], {"vcpus": 1, "cells": 2}, "at least as many vCPUs"),
    ],
)
def test_check_refuses_what_the_test_driver_would_accept(devices, kwargs, fragment):
    with pytest.raises(exception.InvalidGuestConfig) as err:
        config.check(_guest(devices, **kwargs))
    assert fragment in str(err.value)
    assert UUID in str(err.value)


def test_a_device_on_a_missing_guest_node_is_refused():
    guest = _guest([_device("/dev/dax0.0", 64 * MiB)])
    guest.nvdimms = [config.Nvdimm("/dev/dax0.0", 64 * MiB, 2 * MiB, guest_node=1)]
    with pytest.raises(exception.InvalidGuestConfig, match="node 1 does not exist"):
        config.check(guest)


def _real_libvirt():
    try:
        import libvirt
    except ImportError:
        databases.unavailable("libvirt", "libvirt-python is not installed")
    return libvirt


@pytest.mark.parametrize(
    "devices, kwargs",
    [
        ([_device("/dev/dax0.0", 4292870144)], {}),
        (
            [_device("/dev/dax0.0", 64 * MiB), _device("/dev/dax1.0", 64 * MiB)],
            {"memory_mb": 2048, "vcpus": 4, "cells": 2},
        ),
        ([], {"memory_mb": 512}),
    ],
)
def test_rendered_xml_defines_and_starts_on_libvirts_test_driver(devices, kwargs):
    libvirt = _real_libvirt()
    guest = _guest(devices, **kwargs)
    guest.domain_type = "test"
    config.check(guest)
    conn = libvirt.open("test:///default")
    domain = conn.defineXML(config.to_xml(guest))
    try:
        domain.create()
        assert domain.isActive()
        assert config.nvdimm_paths(domain.XMLDesc(0)) == [d.devpath for d in devices]
        domain.destroy()
    finally:
        domain.undefine()
