"""Namespace discovery: what ndctl and daxctl report, and what the config offers.

``[pmem] namespaces`` (Nova's ``LABEL:NAME[|NAME...]``) picks discovered
devices and labels them. Every mistake in it stops the service at start-up with
the entry that is wrong, because guessing would hand out the wrong device.
"""

import dataclasses
import json
import os
import re

from pmemtrack import exception
from pmemtrack import resource_class
from pmemtrack.resource_tracker import inventory

DEVDAX = "devdax"
_LABEL = re.compile(r"^[A-Za-z0-9_]+$")
_NAME = re.compile(r"^[^|:,\s]+$")


@dataclasses.dataclass(frozen=True)
class Found:
    """A dax device as the tools describe it, before the config labels it."""

    name: str
    devpath: str
    size: int
    align: int
    mode: str
    numa_node: int | None = None
    uuid: str | None = None
    dev: str | None = None
    chardev: str | None = None


def _load(text, command):
    """The JSON list a tool printed; nothing at all means no devices."""
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except ValueError as err:
        raise exception.DiscoveryOutputInvalid(command=command, reason=err)
    # Old ndctl versions and --human print a bare object for a single entry.
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise exception.DiscoveryOutputInvalid(
            command=command, reason="expected a JSON array of objects"
        )
    return data


def _first_device(namespace):
    devices = (namespace.get("daxregion") or {}).get("devices") or [{}]
    return devices[0]


def _node(*candidates):
    for value in candidates:
        if isinstance(value, int) and value >= 0:
            return value
    return None


def parse_ndctl(text, device_dir="/dev"):
    """Namespaces from ``ndctl list -X -v``; named by ``name``, else ``dev``."""
    found = []
    for ns in _load(text, "ndctl list"):
        device = _first_device(ns)
        chardev = device.get("chardev")
        region = ns.get("daxregion") or {}
        try:
            found.append(
                Found(
                    name=ns.get("name") or ns["dev"],
                    devpath=os.path.join(device_dir, chardev) if chardev else "",
                    size=int(device.get("size") or ns["size"]),
                    align=int(ns.get("align") or region.get("align") or 0),
                    mode=ns.get("mode", ""),
                    numa_node=_node(
                        ns.get("numa_node"),
                        ns.get("target_node"),
                        device.get("target_node"),
                    ),
                    uuid=ns.get("uuid"),
                    dev=ns.get("dev"),
                    chardev=chardev,
                )
            )
        except (KeyError, TypeError, ValueError) as err:
            raise exception.DiscoveryOutputInvalid(
                command="ndctl list", reason=f"namespace {ns!r}: bad or missing {err}"
            )
    return found


def parse_daxctl(text, device_dir="/dev"):
    """Dax devices from ``daxctl list`` (CXL memory among them), named by chardev."""
    found = []
    for dev in _load(text, "daxctl list"):
        try:
            chardev = dev["chardev"]
            found.append(
                Found(
                    name=chardev,
                    devpath=os.path.join(device_dir, chardev),
                    size=int(dev["size"]),
                    align=int(dev.get("align") or 0),
                    mode=dev.get("mode", DEVDAX),
                    numa_node=_node(dev.get("numa_node"), dev.get("target_node")),
                    chardev=chardev,
                )
            )
        except (KeyError, TypeError, ValueError) as err:
            raise exception.DiscoveryOutputInvalid(
                command="daxctl list", reason=f"device {dev!r}: bad or missing {err}"
            )
    return found


def merge(from_ndctl, from_daxctl):
    """ndctl's view wins: daxctl also lists the devices behind namespaces."""
    known = {f.chardev for f in from_ndctl if f.chardev}
    return from_ndctl + [f for f in from_daxctl if f.chardev not in known]


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
            inventory.DiscoveredNamespace(
                name=name,
                label=label,
                devpath=item.devpath,
                size=item.size,
                align=item.align,
                numa_node=item.numa_node,
                uuid=item.uuid,
                dev=item.dev or item.chardev,
            )
        )
    return selected


def discover(tools, pmem_conf):
    """Run the tools and return every dax device found (``Found``)."""
    found = parse_ndctl(tools.ndctl_list(), tools.device_dir)
    if pmem_conf.discover_dax_devices:
        found = merge(found, parse_daxctl(tools.daxctl_list(), tools.device_dir))
    return found


def every_mode(tools):
    """Namespaces in any mode (``ndctl list -N``), for error messages."""
    return parse_ndctl(tools.ndctl_list_all(), tools.device_dir)
