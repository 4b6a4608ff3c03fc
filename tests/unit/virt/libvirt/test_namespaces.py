"""Discovery output in every format the tools print, and every bad config."""

import json

import pytest

from pmemtrack import exception
from pmemtrack.virt.libvirt import namespaces

MiB = 1024 * 1024
# From the ndctl-list man page: one devdax namespace without a name.
MAN_PAGE = (
    '[{"dev":"namespace0.0","mode":"devdax","size":4225761280,'
    '"uuid":"18ae1bbb-bb62-4efc-86df-4a5caacb5dcc","daxregion":{"id":0,'
    '"size":4225761280,"align":2097152,"devices":[{"chardev":"dax0.0",'
    '"size":4225761280}]}}]'
)


def _ns(name, dev, chardev, size=4 * 1024 * MiB, mode="devdax", numa=0):
    entry = {
        "dev": dev,
        "mode": mode,
        "size": size,
        "uuid": f"uuid-{dev}",
        "numa_node": numa,
        "align": 2 * MiB,
        "daxregion": {
            "id": 0,
            "size": size,
            "align": 2 * MiB,
            "devices": [{"chardev": chardev, "size": size - 2 * MiB}],
        },
    }
    if name:
        entry["name"] = name
    return entry


def test_man_page_example_is_named_by_its_dev():
    [found] = namespaces.parse_ndctl(MAN_PAGE)
    assert found == namespaces.Found(
        name="namespace0.0",
        devpath="/dev/dax0.0",
        size=4225761280,
        align=2 * MiB,
        mode="devdax",
        numa_node=None,
        uuid="18ae1bbb-bb62-4efc-86df-4a5caacb5dcc",
        dev="namespace0.0",
        chardev="dax0.0",
    )


def test_named_namespace_uses_the_dax_device_size_and_numa_node():
    text = json.dumps([_ns("ns0", "namespace1.0", "dax1.0", numa=1)])
    [found] = namespaces.parse_ndctl(text, device_dir="/sim/dev")
    assert (found.name, found.devpath, found.numa_node) == ("ns0", "/sim/dev/dax1.0", 1)
    assert found.size == 4 * 1024 * MiB - 2 * MiB


def test_empty_output_means_no_namespaces():
    assert namespaces.parse_ndctl("") == []
    assert namespaces.parse_ndctl("\n") == []
    assert namespaces.parse_daxctl("") == []


def test_a_bare_object_from_old_ndctl_is_one_namespace():
    text = json.dumps(_ns("ns0", "namespace0.0", "dax0.0"))
    assert [f.name for f in namespaces.parse_ndctl(text)] == ["ns0"]


@pytest.mark.parametrize(
    "text, reason",
    [
        ("not json", "Expecting value"),
        ("[1, 2]", "expected a JSON array of objects"),
        ('[{"mode": "devdax"}]', "bad or missing 'dev'"),
        ('"hello"', "expected a JSON array of objects"),
    ],
)
def test_unreadable_output_names_the_command(text, reason):
    with pytest.raises(exception.DiscoveryOutputInvalid) as err:
        namespaces.parse_ndctl(text)
    assert "ndctl list" in str(err.value) and reason in str(err.value)


def test_daxctl_devices_are_named_by_chardev_and_deduplicated():
    ndctl = namespaces.parse_ndctl(json.dumps([_ns("ns0", "namespace0.0", "dax0.0")]))
    daxctl = namespaces.parse_daxctl(
        json.dumps(
            [
                {"chardev": "dax0.0", "size": 1, "target_node": 0, "mode": "devdax"},
                {
                    "chardev": "dax10.0",
                    "size": 8 * 1024 * MiB,
                    "target_node": 2,
                    "align": 2 * MiB,
                    "mode": "devdax",
                },  # fmt: skip
            ]
        )
    )
    merged = namespaces.merge(ndctl, daxctl)
    assert [(f.name, f.devpath, f.numa_node) for f in merged] == [
        ("ns0", "/dev/dax0.0", 0),
        ("dax10.0", "/dev/dax10.0", 2),
    ]


def test_config_in_nova_format_keeps_its_order():
    pairs = namespaces.parse_config(["128G:ns0|ns1|ns2", "MEDIUM:ns6|ns7"])
    assert pairs == [
        ("128G", "ns0"),
        ("128G", "ns1"),
        ("128G", "ns2"),
        ("MEDIUM", "ns6"),
        ("MEDIUM", "ns7"),
    ]


@pytest.mark.parametrize(
    "entries, fragment",
    [
        (["ns0"], "expected LABEL:NAME"),
        (["bad-label:ns0"], "expected LABEL:NAME"),
        (["A:ns0|"], "name '' is empty"),
        (["A:ns0", "B:ns0"], "already listed under label A"),
        (["A:ns0|ns0"], "already listed under label A"),
    ],
)
def test_bad_config_entries_name_the_entry(entries, fragment):
    with pytest.raises(exception.InvalidNamespaceConfig) as err:
        namespaces.parse_config(entries)
    assert fragment in str(err.value)
    assert "[pmem] namespaces entry" in str(err.value)


def _found():
    return namespaces.parse_ndctl(
        json.dumps(
            [
                _ns("ns0", "namespace0.0", "dax0.0"),
                _ns("fs0", "namespace0.1", None, mode="fsdax"),
            ]
        )
    )


def test_select_labels_the_configured_namespaces():
    [selected] = namespaces.select([("medium", "ns0")], _found())
    assert (selected.name, selected.label, selected.devpath) == (
        "ns0",
        "medium",
        "/dev/dax0.0",
    )
    assert selected.resource_class == "CUSTOM_PMEM_NAMESPACE_MEDIUM"


def test_an_unknown_name_stops_with_what_was_found():
    with pytest.raises(exception.InvalidNamespaceConfig) as err:
        namespaces.select([("A", "ns9")], _found())
    assert "'A:ns9'" in str(err.value)
    assert "no namespace or dax device named ns9" in str(err.value)
    assert "found: fs0, ns0" in str(err.value)


def test_a_namespace_not_in_devdax_mode_is_refused():
    with pytest.raises(exception.InvalidNamespaceConfig) as err:
        namespaces.select([("A", "fs0")], _found())
    assert "is in fsdax mode" in str(err.value)
