"""Which namespaces a claim takes: one NUMA node when it can, a fixed order."""

import pytest

from pmemtrack import exception
from pmemtrack.resource_tracker import claims
from pmemtrack.resource_tracker import selection

MEDIUM = "CUSTOM_PMEM_NAMESPACE_MEDIUM"
LARGE = "CUSTOM_PMEM_NAMESPACE_LARGE"


def ns(name, rc=MEDIUM, numa=0):
    return selection.HostNamespace(
        name=name,
        resource_class=rc,
        label=rc.rsplit("_", 1)[1],
        devpath=f"/dev/{name}",
        size=1 << 30,
        align=1 << 21,
        numa_node=numa,
        state="available",
    )


def choose(free, wanted, policy="prefer-single-node"):
    return [n.name for n in selection.choose(free, wanted, policy, "h", "n")]


def test_natural_order_within_a_node():
    free = [ns("ns10"), ns("ns2"), ns("ns1")]
    assert choose(free, {MEDIUM: 2}) == ["ns1", "ns2"]


def test_the_whole_request_from_one_numa_node_when_possible():
    free = [
        ns("ns0", numa=0),
        ns("ns1", LARGE, numa=0),
        ns("ns2", numa=1),
        ns("ns3", LARGE, numa=1),
        ns("ns4", numa=1),
    ]
    assert choose(free, {MEDIUM: 2, LARGE: 1}) == ["ns2", "ns4", "ns3"]
    assert choose(free, {MEDIUM: 1, LARGE: 1}) == ["ns0", "ns1"]


def test_spread_in_a_fixed_order_when_no_node_can():
    free = [ns("ns3", numa=1), ns("ns0", numa=0)]
    assert choose(free, {MEDIUM: 2}) == ["ns0", "ns3"]
    with pytest.raises(exception.PmemNumaUnsatisfiable, match="require-single-node"):
        choose(free, {MEDIUM: 2}, "require-single-node")


def test_namespaces_without_numa_node_come_last():
    free = [ns("ns0", numa=None), ns("ns1", numa=3)]
    assert choose(free, {MEDIUM: 1}) == ["ns1"]


def test_labels_are_counted_after_normalisation_and_none_dropped():
    wanted = claims.wanted_from_labels(["medium", "MEDIUM", "Large", "medium"])
    assert dict(wanted) == {MEDIUM: (3, "medium"), LARGE: (1, "Large")}
