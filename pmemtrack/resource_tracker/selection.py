"""Which free namespaces a claim takes.

All of an instance's namespaces come from one host NUMA node when one node can
satisfy the whole request (the guest's memory and its nvdimms then share a
node); otherwise namespaces are taken in a fixed order so the choice is
deterministic and repeatable. Nova picks an arbitrary free namespace instead.
"""

import collections
import dataclasses
import functools
import re

from pmemtrack import exception
from pmemtrack.objects import request_spec

_DIGITS = re.compile(r"(\d+)")


def natural_key(name):
    """ns2 sorts before ns10."""
    return [int(part) if part.isdigit() else part for part in _DIGITS.split(name)]


@dataclasses.dataclass(frozen=True)
class HostNamespace:
    """One namespace of a node, as the unified resources table describes it."""

    name: str
    resource_class: str
    label: str
    devpath: str
    size: int
    align: int
    numa_node: int | None
    state: str
    uuid: str | None = None

    @functools.cached_property
    def sort_key(self):
        node = self.numa_node if self.numa_node is not None else 1 << 30
        return (node, natural_key(self.name))


def _pick(candidates, wanted):
    by_class = collections.defaultdict(list)
    for namespace in sorted(candidates, key=lambda ns: ns.sort_key):
        by_class[namespace.resource_class].append(namespace)
    if any(len(by_class[rc]) < n for rc, n in wanted.items()):
        return None
    return [ns for rc, n in wanted.items() for ns in by_class[rc][:n]]


def choose(free, wanted, policy, host, node):
    """Namespaces for ``wanted`` (resource class -> count) from ``free``.

    The caller has checked that enough of every class is free on the node.
    """
    by_numa = collections.defaultdict(list)
    for namespace in free:
        by_numa[namespace.numa_node].append(namespace)
    for numa_node in sorted(by_numa, key=lambda n: (n is None, n or 0)):
        picked = _pick(by_numa[numa_node], wanted)
        if picked is not None:
            return picked
    if policy == request_spec.PmemNumaPolicy.REQUIRE_SINGLE_NODE:
        free_per_node = {
            numa: dict(collections.Counter(ns.resource_class for ns in namespaces))
            for numa, namespaces in sorted(by_numa.items(), key=lambda i: str(i[0]))
        }
        raise exception.PmemNumaUnsatisfiable(
            host=host, node=node, wanted=dict(wanted), policy=policy, free=free_per_node
        )
    return _pick(free, wanted)


def in_request_order(chosen, classes):
    """``chosen`` reordered to follow ``classes`` (the flavor's hw:pmem, one
    entry per namespace): the order the guest sees its nvdimm devices, which
    a move's copy follows to give each device its own data back."""
    by_class = collections.defaultdict(list)
    for namespace in chosen:
        by_class[namespace.resource_class].append(namespace)
    return [by_class[rc].pop(0) for rc in classes]
