"""Namespace discovery: what ndctl and daxctl report, and what the config offers.

``[pmem] namespaces`` (Nova's ``LABEL:NAME[|NAME...]``) picks discovered
devices and labels them. Every mistake in it stops the service at start-up with
the entry that is wrong, because guessing would hand out the wrong device.
"""

import dataclasses
import json
import re

from pmemtrack import exception
from pmemtrack import resource_class
from pmemtrack.virt import namespace
from pmemtrack.virt.libvirt import discovery_checks as checks

DEVDAX = namespace.DEVDAX
NDCTL = "ndctl list"
DAXCTL = "daxctl list"
BOTH = "ndctl list and daxctl list"
_LABEL = re.compile(r"^[A-Za-z0-9_]+$")
_NAME = re.compile(r"^[^|:,\s]+$")


def _load(text, command):
    """The JSON list a tool printed; nothing at all means no devices."""
    if not text.strip():
        return []
    try:
        data = json.loads(text, object_pairs_hook=checks.no_duplicate_keys)
    except (ValueError, RecursionError) as err:
        raise exception.DiscoveryOutputInvalid(command=command, reason=err)
    # Old ndctl versions and --human print a bare object for a single entry.
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise exception.DiscoveryOutputInvalid(
            command=command,
            reason=f"expected a JSON array of objects, not {checks.shown(data)}",
        )
    for number, entry in enumerate(data, 1):
        if not isinstance(entry, dict):
            raise exception.DiscoveryOutputInvalid(
                command=command,
                reason=f"expected a JSON array of objects; entry #{number} is "
                f"{checks.shown(entry)}",
            )
    return data


def _describe(found):
    return checks.describe(found.dev, found.name, found.chardev)


def _namespace(ns, number, device_dir):
    """One ``ndctl list`` entry as a DiscoveredNamespace (no label yet), and
    every chardev it holds."""
    where = checks.Where(NDCTL, f"namespace #{number}")
    name = where.optional(ns, "name", checks.TEXT)
    if name:
        where = where.known_as(f"namespace #{number} (name {name!r})")
    dev = where.required(ns, "dev", checks.IDENTIFIER)
    # An empty name is no name: ndctl then names the namespace by its dev.
    name = name or dev
    where = where.known_as(checks.describe(dev, name, None))
    region = where.optional(ns, "daxregion", checks.OBJECT) or {}
    where.optional(region, "size", checks.BYTES, "daxregion.")
    entries = where.optional(region, "devices", checks.OBJECTS, "daxregion.") or []
    devices = [
        where.device(entry, device_dir, f"daxregion.devices[{index}].")
        for index, entry in enumerate(entries)
    ]
    first = devices[0] if devices else checks.NO_DEVICE
    ns_size = where.optional(ns, "size", checks.BYTES)
    ns_align = where.optional(ns, "align", checks.BYTES)
    region_align = where.optional(region, "align", checks.BYTES, "daxregion.")
    # The dax device is a little smaller than its namespace (the page map).
    size = first.size or ns_size
    if size is None:
        where.missing("size", checks.BYTES)
    found = namespace.DiscoveredNamespace(
        name=name,
        label="",
        devpath=first.devpath or "",
        size=size,
        # Absent everywhere means unknown (0), not refused.
        align=ns_align or region_align or 0,
        mode=where.optional(ns, "mode", checks.TEXT) or "",
        numa_node=checks.node(
            where.optional(ns, "numa_node", checks.NODE),
            where.optional(ns, "target_node", checks.NODE),
            first.numa_node,
        ),
        uuid=where.optional(ns, "uuid", checks.TEXT),
        dev=dev,
        chardev=first.chardev,
    )
    return found, [device.chardev for device in devices]


def parse_ndctl(text, device_dir="/dev"):
    """Namespaces from ``ndctl list -X -v``; named by ``name``, else ``dev``.

    Every entry is checked, not only those the config picks: a broken or
    contradictory listing is a reason to trust none of it."""
    found, chardevs = [], []
    for number, ns in enumerate(_load(text, NDCTL), 1):
        item, held = _namespace(ns, number, device_dir)
        found.append(item)
        chardevs.extend((_describe(item), chardev) for chardev in held)
    # One chardev in two namespaces would put two guests on one device.
    checks.unique(NDCTL, chardevs, "chardev")
    checks.unique(NDCTL, [(_describe(f), f.dev) for f in found], "dev")
    # The config picks by name; with two owners it would pick at random.
    checks.unique(NDCTL, [(_describe(f), f.name) for f in found], "name")
    return found


def parse_daxctl(text, device_dir="/dev"):
    """Dax devices from ``daxctl list`` (CXL memory among them), named by chardev."""
    found = []
    for number, entry in enumerate(_load(text, DAXCTL), 1):
        where = checks.Where(DAXCTL, f"device #{number}")
        chardev = where.required(entry, "chardev", checks.CHARDEV)
        where = where.known_as(checks.describe(None, chardev, chardev))
        device = where.device(entry, device_dir, size_required=True)
        found.append(
            namespace.DiscoveredNamespace(
                name=chardev,
                label="",
                devpath=device.devpath,
                size=device.size,
                align=device.align or 0,
                # Old daxctl prints no mode: devdax was the only one. A null
                # mode stays unknown, and select refuses it.
                mode=device.mode if "mode" in entry else DEVDAX,
                numa_node=device.numa_node,
                chardev=chardev,
            )
        )
    checks.unique(DAXCTL, [(_describe(f), f.chardev) for f in found], "chardev")
    return found


def merge(from_ndctl, from_daxctl):
    """ndctl's view wins: daxctl also lists the devices behind namespaces.

    A daxctl device with the chardev of a namespace is that namespace's device
    and is dropped. Any other must not take the name of a namespace, or the
    config could not tell which of the two it means."""
    known = {f.chardev for f in from_ndctl if f.chardev}
    merged = from_ndctl + [f for f in from_daxctl if f.chardev not in known]
    checks.unique(BOTH, [(_describe(f), f.name) for f in merged], "name")
    return merged


def parse_config(entries):
    """[(label, name)] from ``[pmem] namespaces``, in the order written."""
    pairs, seen = [], {}
    for entry in entries:
        label, sep, names = entry.partition(":")
        label = label.strip()
        if not sep or not _LABEL.match(label):
            raise exception.InvalidNamespaceConfig(
                entry=entry,
                reason="expected LABEL:NAME[|NAME...] with a label of "
                "letters, digits and '_'",
            )
        resource_class.for_label(label)
        for name in names.split("|"):
            name = name.strip()
            if not _NAME.match(name):
                raise exception.InvalidNamespaceConfig(
                    entry=entry, reason=f"namespace name {name!r} is empty or malformed"
                )
            if name in seen:
                raise exception.InvalidNamespaceConfig(
                    entry=entry,
                    reason=f"namespace {name} is already listed under label "
                    f"{seen[name]}; a namespace can have one label only",
                )
            seen[name] = label
            pairs.append((label, name))
    return pairs


def select(pairs, found, other_modes=list):
    """The configured namespaces, labelled; every configured name must exist
    and be in devdax mode. ``other_modes()`` lists namespaces of every mode; it
    is only asked when a name is missing, to say why."""
    by_name = {f.name: f for f in found}
    selected = []
    for label, name in pairs:
        entry = f"{label}:{name}"
        item = by_name.get(name)
        if item is None:
            item = {f.name: f for f in other_modes()}.get(name)
        if item is None:
            known = ", ".join(sorted(by_name)) or "none"
            raise exception.InvalidNamespaceConfig(
                entry=entry,
                reason=f"no namespace or dax device named {name} was "
                f"discovered (found: {known})",
            )
        if item.mode != DEVDAX:
            raise exception.InvalidNamespaceConfig(
                entry=entry,
                reason=f"namespace {name} is in {item.mode or 'unknown'} "
                "mode; only devdax namespaces can be given to guests "
                f"(ndctl create-namespace -f -e {item.dev or name} -m devdax)",
            )
        if not item.devpath:
            raise exception.InvalidNamespaceConfig(
                entry=entry, reason=f"namespace {name} has no dax character device"
            )
        selected.append(
            dataclasses.replace(item, label=label, dev=item.dev or item.chardev)
        )
    return selected


def discover(tools, pmem_conf):
    """Run the tools and return every dax device found, unlabelled."""
    found = parse_ndctl(tools.ndctl_list(), tools.device_dir)
    if pmem_conf.discover_dax_devices:
        found = merge(found, parse_daxctl(tools.daxctl_list(), tools.device_dir))
    return found


def every_mode(tools):
    """Namespaces in any mode (``ndctl list -N``), for error messages."""
    return parse_ndctl(tools.ndctl_list_all(), tools.device_dir)
