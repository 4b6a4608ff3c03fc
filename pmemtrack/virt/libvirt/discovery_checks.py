"""Checks on what ndctl and daxctl print, before discovery trusts any of it.

A dax device handed to two guests, or a device path outside the device
directory, is worse than no device at all. So every doubt about the tools'
output (a wrong type, a duplicate, a strange character device) stops discovery
with ``DiscoveryOutputInvalid``, naming the entry, the field and the value, so
that the operator knows what to fix. Only what discovery reads is checked.
"""

import collections
import os
import re

from pmemtrack import exception

# 1 PiB: far above any PMEM or CXL device, far below what breaks the sums
# (and the DB columns) that sizes end up in.
MAX_BYTES = 2**50
# Linux has at most 1024 NUMA nodes (MAX_NUMNODES); anything far above that
# is garbage, not a node.
MAX_NODE = 2**16
_CHARDEV = re.compile(r"dax[0-9]+\.[0-9]+")
_SHOWN = 60

Kind = collections.namedtuple("Kind", ["accepts", "expected"])

# bool is an int in Python but never a size or a node: hence ``type(v) is int``.
TEXT = Kind(lambda v: isinstance(v, str), "a string")
IDENTIFIER = Kind(lambda v: isinstance(v, str) and v != "", "a non-empty string")
BYTES = Kind(
    lambda v: type(v) is int and 0 < v <= MAX_BYTES,
    "a whole number of bytes from 1 to 2**50",
)
NODE = Kind(
    lambda v: type(v) is int and -1 <= v <= MAX_NODE,
    f"a NUMA node number from 0 to {MAX_NODE} (or -1 for unknown)",
)
OBJECT = Kind(lambda v: isinstance(v, dict), "a JSON object")
OBJECTS = Kind(
    lambda v: isinstance(v, list) and all(isinstance(e, dict) for e in v),
    "a JSON array of objects",
)
CHARDEV = Kind(
    lambda v: isinstance(v, str) and _CHARDEV.fullmatch(v) is not None,
    "a dax character device name such as 'dax0.0'",
)

# A dax device as ndctl (inside a namespace's daxregion) and daxctl describe it.
Device = collections.namedtuple(
    "Device", ["chardev", "devpath", "size", "align", "mode", "numa_node"]
)
NO_DEVICE = Device(None, None, None, None, None, None)


def shown(value):
    """``repr(value)``, cut short: a garbage object must not flood the log."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def describe(dev, name, chardev):
    """How errors name a namespace (by dev, and name if it has one of its
    own) or a standalone dax device (by chardev)."""
    if dev is None:
        return f"device {chardev!r}"
    if name != dev:
        return f"namespace {dev!r} (name {name!r})"
    return f"namespace {dev!r}"


def node(*candidates):
    """The first known NUMA node; -1 and absent both mean unknown."""
    for value in candidates:
        if value is not None and value >= 0:
            return value
    return None


class Where:
    """One object of a tool's output, and how errors name it."""

    def __init__(self, command, owner):
        self.command = command
        self.owner = owner

    def known_as(self, owner):
        return Where(self.command, owner)

    def fail(self, reason):
        raise exception.DiscoveryOutputInvalid(
            command=self.command, reason=f"{self.owner}: {reason}"
        )

    def optional(self, obj, key, kind, prefix=""):
        """``obj[key]`` if it is of ``kind``; None if absent (or null)."""
        value = obj.get(key)
        if value is not None and not kind.accepts(value):
            self.fail(f"{prefix}{key} {shown(value)} is not {kind.expected}")
        return value

    def required(self, obj, key, kind, prefix=""):
        value = self.optional(obj, key, kind, prefix)
        if value is None:
            self.missing(prefix + key, kind)
        return value

    def missing(self, field, kind):
        self.fail(f"bad or missing {field!r}: expected {kind.expected}")

    def devpath(self, device_dir, chardev, field):
        """``device_dir/chardev``, refused unless it is directly in
        ``device_dir``: the path is opened, wiped and given to a guest."""
        path = os.path.join(device_dir, chardev)
        if ".." in path.split(os.sep) or os.path.dirname(path) != os.path.normpath(
            device_dir
        ):
            self.fail(
                f"{field} {chardev!r} gives the path {path!r}, which is not "
                f"directly in the device directory {device_dir!r}"
            )
        return path

    def device(self, entry, device_dir, prefix="", size_required=False):
        """A dax device entry, every field checked; only ``chardev`` and
        ``size`` can be required, the rest may be unknown."""
        chardev = self.optional(entry, "chardev", CHARDEV, prefix)
        get_size = self.required if size_required else self.optional
        return Device(
            chardev=chardev,
            devpath=chardev and self.devpath(device_dir, chardev, prefix + "chardev"),
            size=get_size(entry, "size", BYTES, prefix),
            align=self.optional(entry, "align", BYTES, prefix),
            mode=self.optional(entry, "mode", TEXT, prefix),
            numa_node=node(
                self.optional(entry, "numa_node", NODE, prefix),
                self.optional(entry, "target_node", NODE, prefix),
            ),
        )


def unique(command, owned, what):
    """Refuse a value owned twice; ``owned`` is [(owner, value)] and None
    values own nothing."""
    owners = {}
    for owner, value in owned:
        if value is None:
            continue
        if value in owners:
            raise exception.DiscoveryOutputInvalid(
                command=command,
                reason=f"{owner}: {what} {value!r} is also the {what} of "
                f"{owners[value]}",
            )
        owners[value] = owner


def no_duplicate_keys(pairs):
    """``object_pairs_hook`` for json: the tools never print a key twice, and
    json would silently keep the last one."""
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"key {key!r} appears twice in one object")
        obj[key] = value
    return obj
