"""The unified host resources table on every backend."""

import pytest

from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.objects import host_resource


def _node(ctx, host="compute1"):
    node = objects.ComputeNode(ctx, host=host, hypervisor_hostname=host)
    node.create()
    return node


def _namespace(ctx, node, name, numa_node=0):
    resource = objects.HostResource(
        ctx,
        compute_node_id=node.id,
        resource_class="CUSTOM_PMEM_NAMESPACE_4GB",
        resource_type=host_resource.PMEM_NAMESPACE,
        identifier=name,
        locator=f"/dev/{name}",
        metadata={"size": 4292870144, "align": 2097152, "numa_node": numa_node},
    )
    resource.create()
    return resource


def test_create_and_list_per_node(ctx):
    node, other = _node(ctx), _node(ctx, "compute2")
    _namespace(ctx, node, "ns_1", numa_node=1)
    _namespace(ctx, node, "ns_0")
    _namespace(ctx, other, "ns_0")
    listed = objects.HostResourceList.get_by_compute_node(
        ctx, node.id, resource_type=host_resource.PMEM_NAMESPACE
    )
    assert [r.identifier for r in listed] == ["ns_0", "ns_1"]
    assert listed[1].metadata["numa_node"] == 1
    assert listed[0].state == "available"


def test_identifier_is_unique_per_node(ctx):
    node = _node(ctx)
    _namespace(ctx, node, "ns_0")
    with pytest.raises(exception.HostResourceExists, match="ns_0"):
        _namespace(ctx, node, "ns_0")


def test_save_state_and_metadata_then_destroy(ctx):
    node = _node(ctx)
    resource = _namespace(ctx, node, "ns_0")
    resource.state = "unavailable"
    resource.metadata = dict(resource.metadata, label="MEDIUM")
    resource.save()
    [found] = objects.HostResourceList.get_by_compute_node(ctx, node.id)
    assert found.state == "unavailable"
    assert found.metadata["label"] == "MEDIUM"
    found.destroy()
    assert len(objects.HostResourceList.get_by_compute_node(ctx, node.id)) == 0


def test_invalid_state_is_refused(ctx):
    with pytest.raises(ValueError):
        objects.HostResource(ctx, state="free")
