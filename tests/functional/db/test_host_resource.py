"""The unified host resources table on every backend."""

import pytest

from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.db import api as db_api
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


def _offer(*names, size=4292870144):
    return {
        name: {
            "resource_class": "CUSTOM_PMEM_NAMESPACE_4GB",
            "locator": f"/dev/{name}",
            "metadata": {"size": size, "align": 2097152, "numa_node": 0},
        }
        for name in names
    }


def _states(ctx, node):
    rows = objects.HostResourceList.get_by_compute_node(ctx, node.id)
    return {r.identifier: r.state for r in rows}


def test_the_periodic_sync_adds_updates_and_removes_rows(ctx):
    node = _node(ctx)
    sync = objects.HostResourceList.sync_namespaces
    report = sync(ctx, node.id, _offer("ns_0", "ns_1"), held=())
    assert (report["added"], report["updated"]) == (["ns_0", "ns_1"], [])

    # The same report again changes nothing: no row is rewritten.
    report = sync(ctx, node.id, _offer("ns_0", "ns_1"), held=())
    assert not any(report.values())

    report = sync(ctx, node.id, _offer("ns_0", size=8585740288), held=())
    assert (report["updated"], report["removed"]) == (["ns_0"], ["ns_1"])
    [row] = objects.HostResourceList.get_by_compute_node(ctx, node.id)
    assert row.metadata["size"] == 8585740288


def test_a_held_row_no_longer_offered_stays_unavailable_and_a_dirty_one_dirty(ctx):
    node = _node(ctx)
    sync = objects.HostResourceList.sync_namespaces
    sync(ctx, node.id, _offer("ns_0", "ns_1", "ns_2"), held=())
    objects.HostResourceList.set_state(ctx, node.id, ["ns_2"], "dirty")

    report = sync(ctx, node.id, _offer(), held={"ns_0"})
    assert report["unavailable"] == ["ns_0"]
    assert report["kept_dirty"] == ["ns_2"]
    assert report["removed"] == ["ns_1"]
    assert _states(ctx, node) == {"ns_0": "unavailable", "ns_2": "dirty"}

    # Offered again: the held one is available again, the dirty one is not.
    report = sync(ctx, node.id, _offer("ns_0", "ns_2"), held={"ns_0"})
    assert report["updated"] == ["ns_0"]
    assert _states(ctx, node) == {"ns_0": "available", "ns_2": "dirty"}


def test_a_state_change_can_be_conditional_on_the_state_it_leaves(ctx):
    node = _node(ctx)
    objects.HostResourceList.sync_namespaces(ctx, node.id, _offer("ns_0"), held=())
    set_state = objects.HostResourceList.set_state
    assert set_state(ctx, node.id, ["ns_0"], "available", only_from="dirty") == 0
    assert set_state(ctx, node.id, ["ns_0"], "dirty") == 1
    assert objects.HostResource.state_of(ctx, node.id, "ns_0") == "dirty"
    assert set_state(ctx, node.id, ["ns_0"], "available", only_from="dirty") == 1
    assert set_state(ctx, node.id, [], "dirty") == 0
    assert objects.HostResource.state_of(ctx, node.id, "ns_missing") is None


def test_the_writes_join_the_callers_transaction(ctx):
    node = _node(ctx)
    objects.HostResourceList.sync_namespaces(ctx, node.id, _offer("ns_0"), held=())

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned):
        with db_api.context_manager.writer.using(ctx):
            objects.HostResourceList.set_state(ctx, node.id, ["ns_0"], "dirty")
            objects.HostResourceList.sync_namespaces(
                ctx, node.id, _offer("ns_0", "ns_1"), held=()
            )
            assert _states(ctx, node) == {"ns_0": "dirty", "ns_1": "available"}
            raise Abandoned()
    assert _states(ctx, node) == {"ns_0": "available"}
