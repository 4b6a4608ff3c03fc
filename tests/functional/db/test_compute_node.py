"""ComputeNode on every backend: create, look up, update, and what is refused."""

import pytest

from pmemtrack import exception
from pmemtrack import objects


def _node(ctx, host="compute1", node="compute1", **kwargs):
    cn = objects.ComputeNode(ctx, host=host, hypervisor_hostname=node, **kwargs)
    cn.create()
    return cn


def test_create_and_get_by_host_and_nodename(ctx):
    created = _node(ctx, service_version=2, migration_address="127.0.0.2")
    found = objects.ComputeNode.get_by_host_and_nodename(ctx, "compute1", "compute1")
    assert found.uuid == created.uuid
    assert found.generation == 0
    assert found.service_version == 2
    assert found.migration_address == "127.0.0.2"
    assert objects.ComputeNode.get_by_uuid(ctx, created.uuid).id == created.id


def test_duplicate_host_and_node_is_refused(ctx):
    _node(ctx)
    with pytest.raises(exception.ComputeNodeExists, match="compute1/compute1"):
        _node(ctx)


def test_save_updates_columns_but_never_the_generation(ctx):
    cn = _node(ctx)
    cn.service_version = 7
    cn.save()
    assert objects.ComputeNode.get_by_id(ctx, cn.id).service_version == 7
    cn.generation = 5
    with pytest.raises(exception.ObjectActionError, match="claim transaction"):
        cn.save()
    assert objects.ComputeNode.get_by_id(ctx, cn.id).generation == 0


def test_destroyed_node_is_gone_and_its_name_reusable(ctx):
    cn = _node(ctx)
    cn.destroy()
    with pytest.raises(exception.ComputeNodeNotFound):
        objects.ComputeNode.get_by_uuid(ctx, cn.uuid)
    again = _node(ctx)
    assert again.uuid != cn.uuid


def test_list_all_and_by_host(ctx):
    _node(ctx, "compute1", "n1")
    _node(ctx, "compute1", "n2")
    _node(ctx, "compute2", "n1")
    assert len(objects.ComputeNodeList.get_all(ctx)) == 3
    on_host = objects.ComputeNodeList.get_all(ctx, host="compute1")
    assert sorted(n.hypervisor_hostname for n in on_host) == ["n1", "n2"]
