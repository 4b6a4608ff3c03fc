"""Discovery output in every format the tools print, and every bad config."""

import json

import pytest

from pmemtrack import exception
from pmemtrack.virt import namespace
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
    assert found == namespace.DiscoveredNamespace(
        name="namespace0.0",
        label="",
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


# -- discovery refuses output it cannot trust ---------------------------------


def _invalid(parse, entries, device_dir="/dev"):
    """The message of the DiscoveryOutputInvalid that parsing ``entries``
    raises."""
    with pytest.raises(exception.DiscoveryOutputInvalid) as err:
        parse(json.dumps(entries), device_dir)
    return str(err.value)


def _dax(chardev, size=8 * 1024 * MiB, **fields):
    return {"chardev": chardev, "size": size, "mode": "devdax", **fields}


def test_two_namespaces_on_one_chardev_are_refused():
    message = _invalid(
        namespaces.parse_ndctl,
        [_ns(None, "namespace0.0", "dax0.0"), _ns("ns1", "namespace0.1", "dax0.0")],
    )
    assert message == (
        "Output of ndctl list cannot be read: namespace 'namespace0.1' (name "
        "'ns1'): chardev 'dax0.0' is also the chardev of namespace 'namespace0.0'"
    )


def test_a_chardev_held_by_a_later_device_of_a_namespace_counts_too():
    first = _ns("ns0", "namespace0.0", "dax0.0")
    first["daxregion"]["devices"].append(_dax("dax0.1"))
    message = _invalid(
        namespaces.parse_ndctl, [first, _ns("ns1", "namespace0.1", "dax0.1")]
    )
    assert "namespace 'namespace0.1' (name 'ns1'): chardev 'dax0.1'" in message


def test_two_daxctl_devices_on_one_chardev_are_refused():
    message = _invalid(namespaces.parse_daxctl, [_dax("dax10.0"), _dax("dax10.0")])
    assert message == (
        "Output of daxctl list cannot be read: device 'dax10.0': chardev "
        "'dax10.0' is also the chardev of device 'dax10.0'"
    )


@pytest.mark.parametrize(
    "entries, fragment",
    [
        (
            [
                _ns("ns0", "namespace0.0", "dax0.0"),
                _ns("ns0", "namespace0.1", "dax0.1"),
            ],
            "namespace 'namespace0.1' (name 'ns0'): name 'ns0' is also the name "
            "of namespace 'namespace0.0' (name 'ns0')",
        ),
        # An unnamed namespace is named by its dev, which another may use as name.
        (
            [
                _ns("namespace0.1", "namespace0.0", "dax0.0"),
                _ns(None, "namespace0.1", "dax0.1"),
            ],
            "namespace 'namespace0.1': name 'namespace0.1' is also the name of "
            "namespace 'namespace0.0' (name 'namespace0.1')",
        ),
        (
            [
                _ns("ns0", "namespace0.0", "dax0.0"),
                _ns("ns1", "namespace0.0", "dax0.1"),
            ],
            "namespace 'namespace0.0' (name 'ns1'): dev 'namespace0.0' is also "
            "the dev of namespace 'namespace0.0' (name 'ns0')",
        ),
    ],
)
def test_two_namespaces_with_one_name_are_refused(entries, fragment):
    assert fragment in _invalid(namespaces.parse_ndctl, entries)


def test_a_daxctl_device_named_like_a_namespace_is_refused():
    ndctl = namespaces.parse_ndctl(
        json.dumps([_ns("dax10.0", "namespace1.0", "dax1.0")])
    )
    # dax1.0 is the namespace's own device: dropped, not a conflict.
    daxctl = namespaces.parse_daxctl(json.dumps([_dax("dax1.0"), _dax("dax10.0")]))
    with pytest.raises(exception.DiscoveryOutputInvalid) as err:
        namespaces.merge(ndctl, daxctl)
    assert str(err.value) == (
        "Output of ndctl list and daxctl list cannot be read: device 'dax10.0': "
        "name 'dax10.0' is also the name of namespace 'namespace1.0' (name "
        "'dax10.0')"
    )


BAD_BYTES = [True, False, "4096", "4.00 GiB", 4096.0, 0, -2 * MiB, 2**50 + 1, None]


def _with(entry, path, value):
    """A copy of ``entry`` with the field at ``path`` set (None: removed)."""
    entry = json.loads(json.dumps(entry))
    *parents, key = path
    target = entry
    for parent in parents:
        target = target[parent]
    if value is None:
        target.pop(key)
    else:
        target[key] = value
    return entry


@pytest.mark.parametrize("value", BAD_BYTES[:-1])
@pytest.mark.parametrize(
    "path, field",
    [
        (("daxregion", "devices", 0, "size"), "daxregion.devices[0].size"),
        (("size",), "size"),
        (("align",), "align"),
        (("daxregion", "align"), "daxregion.align"),
        (("daxregion", "size"), "daxregion.size"),
        (("daxregion", "devices", 0, "align"), "daxregion.devices[0].align"),
    ],
)
def test_ndctl_sizes_and_alignments_are_positive_whole_numbers(path, field, value):
    entry = _with(_ns("ns0", "namespace0.0", "dax0.0"), path, value)
    message = _invalid(namespaces.parse_ndctl, [entry])
    assert f"namespace 'namespace0.0' (name 'ns0'): {field} {value!r} is not" in message
    assert "a whole number of bytes from 1 to 2**50" in message


@pytest.mark.parametrize("value", BAD_BYTES[:-1])
@pytest.mark.parametrize("field", ["size", "align"])
def test_daxctl_sizes_and_alignments_are_positive_whole_numbers(field, value):
    message = _invalid(namespaces.parse_daxctl, [_dax("dax10.0", **{field: value})])
    assert f"device 'dax10.0': {field} {value!r} is not a whole number" in message


def test_sizes_up_to_a_pebibyte_are_accepted():
    entry = _ns("ns0", "namespace0.0", "dax0.0", size=2**50)
    entry["daxregion"]["devices"][0]["size"] = 2**50
    [found] = namespaces.parse_ndctl(json.dumps([entry]))
    assert found.size == 2**50


def test_an_absent_alignment_is_unknown_and_falls_back_to_the_region():
    entry = _with(_ns("ns0", "namespace0.0", "dax0.0"), ("align",), None)
    [found] = namespaces.parse_ndctl(json.dumps([entry]))
    assert found.align == 2 * MiB
    entry = _with(entry, ("daxregion", "align"), None)
    [found] = namespaces.parse_ndctl(json.dumps([entry]))
    assert found.align == 0
    [device] = namespaces.parse_daxctl(json.dumps([_dax("dax10.0")]))
    assert device.align == 0


def test_a_size_is_required_from_the_device_or_the_namespace():
    entry = _with(_ns("ns0", "namespace0.0", "dax0.0"), ("size",), None)
    [found] = namespaces.parse_ndctl(json.dumps([entry]))
    assert found.size == 4 * 1024 * MiB - 2 * MiB
    entry = _with(entry, ("daxregion", "devices", 0, "size"), None)
    assert "bad or missing 'size'" in _invalid(namespaces.parse_ndctl, [entry])
    message = _invalid(namespaces.parse_daxctl, [{"chardev": "dax10.0"}])
    assert "device 'dax10.0': bad or missing 'size'" in message


BAD_CHARDEVS = [
    "/etc/passwd",
    "../etc/shadow",
    "dax0.0/../../x",
    "dax0.0/x",
    "..",
    "",
    "dax",
    "dax0",
    "dax0.",
    "dax0.0\n",
    " dax0.0",
    "pmem0",
    "dax\u0661.0",  # an Arabic-Indic digit is no device number
    "DAX0.0",
]


@pytest.mark.parametrize("chardev", BAD_CHARDEVS)
def test_ndctl_chardevs_must_be_dax_device_names(chardev):
    message = _invalid(namespaces.parse_ndctl, [_ns("ns0", "namespace0.0", chardev)])
    assert f"daxregion.devices[0].chardev {chardev!r} is not a dax character" in message


@pytest.mark.parametrize("chardev", BAD_CHARDEVS)
def test_daxctl_chardevs_must_be_dax_device_names(chardev):
    message = _invalid(namespaces.parse_daxctl, [_dax(chardev)])
    assert f"chardev {chardev!r} is not a dax character device name" in message


def test_devpaths_lie_directly_in_the_device_directory():
    text = json.dumps([_ns("ns0", "namespace0.0", "dax0.0")])
    assert namespaces.parse_ndctl(text, "/sim/dev/")[0].devpath == "/sim/dev/dax0.0"
    message = _invalid(
        namespaces.parse_ndctl, [_ns("ns0", "namespace0.0", "dax0.0")], "/sim/../dev"
    )
    assert "gives the path '/sim/../dev/dax0.0', which is not directly in" in message
    message = _invalid(namespaces.parse_daxctl, [_dax("dax10.0")], "/sim/../dev")
    assert "device 'dax10.0': chardev 'dax10.0' gives the path" in message


def test_numa_nodes_may_be_unknown():
    entry = _ns("ns0", "namespace0.0", "dax0.0", numa=-1)
    [found] = namespaces.parse_ndctl(json.dumps([entry]))
    assert found.numa_node is None
    entry["target_node"] = 1
    [found] = namespaces.parse_ndctl(json.dumps([entry]))
    assert found.numa_node == 1
    [device] = namespaces.parse_daxctl(json.dumps([_dax("dax10.0", target_node=-1)]))
    assert device.numa_node is None


NS = ("ns0", "namespace0.0", "dax0.0")
# (what to change, value, field as the message names it)
NDCTL_SHAPES = [
    (("name",), {"a": 1}, "name"),
    (("name",), ["ns0"], "name"),
    (("name",), 7, "name"),
    (("dev",), 7, "dev"),
    (("dev",), ["namespace0.0"], "dev"),
    (("dev",), "", "dev"),
    (("mode",), 1, "mode"),
    (("mode",), {"devdax": True}, "mode"),
    (("uuid",), 1234, "uuid"),
    (("numa_node",), "0", "numa_node"),
    (("numa_node",), True, "numa_node"),
    (("numa_node",), -2, "numa_node"),
    (("numa_node",), 0.0, "numa_node"),
    (("numa_node",), 2**40, "numa_node"),
    (("target_node",), [0], "target_node"),
    (("daxregion",), "region0", "daxregion"),
    (("daxregion",), [{"devices": []}], "daxregion"),
    (("daxregion", "devices"), "dax0.0", "daxregion.devices"),
    (("daxregion", "devices"), {"chardev": "dax0.0"}, "daxregion.devices"),
    (("daxregion", "devices"), ["dax0.0"], "daxregion.devices"),
    (("daxregion", "devices"), [None], "daxregion.devices"),
    (("daxregion", "devices", 0, "chardev"), 0, "daxregion.devices[0].chardev"),
    (
        ("daxregion", "devices", 0, "chardev"),
        ["dax0.0"],
        "daxregion.devices[0].chardev",
    ),
    (("daxregion", "devices", 0, "mode"), 3, "daxregion.devices[0].mode"),
    (
        ("daxregion", "devices", 0, "target_node"),
        "1",
        "daxregion.devices[0].target_node",
    ),
    (("daxregion", "devices", 0, "numa_node"), {}, "daxregion.devices[0].numa_node"),
]


@pytest.mark.parametrize("path, value, field", NDCTL_SHAPES)
def test_every_wrong_ndctl_shape_is_refused_naming_the_field(path, value, field):
    # A well-formed namespace first: the whole output is checked, not only
    # the entry the config would pick.
    entries = [_ns("ns9", "namespace1.0", "dax1.0"), _with(_ns(*NS), path, value)]
    message = _invalid(namespaces.parse_ndctl, entries)
    assert message.startswith("Output of ndctl list cannot be read: ")
    assert f"{field} {value!r} is not" in message


DAXCTL_SHAPES = [
    ("chardev", 10),
    ("chardev", {"name": "dax10.0"}),
    ("mode", ["devdax"]),
    ("mode", 0),
    ("target_node", "0"),
    ("target_node", False),
    ("numa_node", 1.5),
]


@pytest.mark.parametrize("field, value", DAXCTL_SHAPES)
def test_every_wrong_daxctl_shape_is_refused_naming_the_field(field, value):
    entries = [_dax("dax10.1"), {**_dax("dax10.0"), field: value}]
    message = _invalid(namespaces.parse_daxctl, entries)
    assert message.startswith("Output of daxctl list cannot be read: ")
    assert f"{field} {value!r} is not" in message


@pytest.mark.parametrize(
    "parse, text, fragment",
    [
        (namespaces.parse_ndctl, "[{}]", "namespace #1: bad or missing 'dev'"),
        (
            namespaces.parse_daxctl,
            '[{"size": 1}]',
            "device #1: bad or missing 'chardev'",
        ),
        (namespaces.parse_ndctl, '[{"dev": "namespace0.0"}]', "bad or missing 'size'"),
        (namespaces.parse_ndctl, "[{}, 1]", "entry #2 is 1"),
        (
            namespaces.parse_daxctl,
            '[{"chardev": "dax1.0", "size": 1}, "dax1.1"]',
            "entry #2 is 'dax1.1'",
        ),
        (namespaces.parse_ndctl, "[[]]", "entry #1 is []"),
        (namespaces.parse_ndctl, "null", "not None"),
        (namespaces.parse_daxctl, "7", "not 7"),
        (
            namespaces.parse_ndctl,
            '[{"dev": "namespace0.0", "dev": "x"}]',
            "key 'dev' appears twice",
        ),
        (
            namespaces.parse_daxctl,
            '[{"size": NaN, "chardev": "dax1.0"}]',
            "size nan is not",
        ),
        (namespaces.parse_ndctl, "[" * 100000, "Output of ndctl list"),
    ],
)
def test_malformed_output_is_refused_with_the_entry(parse, text, fragment):
    with pytest.raises(exception.DiscoveryOutputInvalid) as err:
        parse(text)
    assert fragment in str(err.value)


def test_a_long_bad_value_is_cut_short_in_the_message():
    message = _invalid(
        namespaces.parse_ndctl, [_with(_ns(*NS), ("name",), ["x" * 1000])]
    )
    assert "name ['xxxx" in message and "..." in message and len(message) < 200


class _Tools:
    device_dir = "/dev"

    def __init__(self, ndctl, daxctl):
        self.ndctl, self.daxctl = json.dumps(ndctl), json.dumps(daxctl)

    def ndctl_list(self):
        return self.ndctl

    def daxctl_list(self):
        return self.daxctl


class _Conf:
    discover_dax_devices = True


def test_discover_merges_what_both_tools_list():
    tools = _Tools(
        [_ns("ns0", "namespace0.0", "dax0.0")], [_dax("dax0.0"), _dax("dax10.0")]
    )
    found = namespaces.discover(tools, _Conf())
    assert [f.name for f in found] == ["ns0", "dax10.0"]


@pytest.mark.parametrize(
    "ndctl, daxctl, fragment",
    [
        (
            [_ns(*NS), _ns("ns1", "namespace0.1", "dax0.0")],
            [],
            "chardev 'dax0.0' is also the chardev",
        ),
        ([_ns(*NS)], [_dax("dax10.0"), _dax("dax10.0")], "chardev 'dax10.0' is also"),
        (
            [_ns("dax10.0", "namespace1.0", "dax1.0")],
            [_dax("dax10.0")],
            "name 'dax10.0' is also",
        ),
        # Nobody would pick the broken device, but its listing is not trusted.
        ([_ns(*NS)], [_dax("dax10.0", size="8 GiB")], "size '8 GiB' is not"),
    ],
)
def test_discover_refuses_output_it_cannot_trust(ndctl, daxctl, fragment):
    with pytest.raises(exception.DiscoveryOutputInvalid) as err:
        namespaces.discover(_Tools(ndctl, daxctl), _Conf())
    assert fragment in str(err.value)
