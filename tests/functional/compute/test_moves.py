"""Resize and cold migration that keep PMEM data: two simulated hosts on this
machine, a real sshd on 127.0.0.1, the tracker on a real DB."""

import os
import threading

import pytest

from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.sandbox import simulated
from tests.fixtures import hosts
from tests.functional.compute import cloud as cloud_fixture

MiB = cloud_fixture.MiB
RUNNING, SHUTDOWN = cloud_fixture.RUNNING, cloud_fixture.SHUTDOWN
Cloud = cloud_fixture.Cloud
devpaths = cloud_fixture.devpaths
fill = cloud_fixture.fill
is_zero = cloud_fixture.is_zero


def assert_back_on_source(cloud, instance, old_data):
    stored = objects.Instance.get_by_uuid(cloud.ctx, instance.uuid, ["resources"])
    assert (stored.host, stored.vm_state) == ("compute1", "active")
    assert devpaths(stored.resources) == list(old_data)
    for path, data in old_data.items():
        assert hosts.read_device(path) == data
    assert cloud.driver("compute1").get_info(instance).state == RUNNING
    assert cloud.driver("compute1").guest_nvdimm_paths(instance) == list(old_data)
    [migration] = objects.MigrationList.get_by_instance(cloud.ctx, instance.uuid)
    assert migration.status == "error"


def test_resize_to_another_host_copies_then_confirm_wipes_the_source(cloud):
    instance = cloud.boot("SMALL")
    old_data = fill(instance)

    migration = cloud.api.resize(
        cloud.ctx, instance, hosts.flavor("BIG"), "compute2", copy_pmem_devices=True
    )

    assert (instance.host, instance.vm_state, migration.status) == (
        "compute2",
        "resized",
        "finished",
    )
    [new_path] = devpaths(instance.resources)
    [(old_path, data)] = old_data.items()
    assert hosts.read_device(new_path) == data  # byte-identical
    assert cloud.driver("compute2").guest_nvdimm_paths(instance) == [new_path]
    assert cloud.driver("compute2").get_info(instance).state == RUNNING
    assert cloud.free("compute1") == ["compute1-ns1", "compute1-ns2", "compute1-ns3"]

    cloud.api.confirm(cloud.ctx, instance)

    assert is_zero(old_path)
    assert cloud.free("compute1") == [f"compute1-ns{i}" for i in range(4)]
    assert cloud.driver("compute1").list_instances() == []
    assert hosts.read_device(new_path) == data


def test_a_move_copies_its_namespaces_in_parallel_streams(ctx, tmp_path,
                                                          sshd_server):  # fmt: skip
    # [migration] parallel_streams = 2: the two namespaces of the instance
    # travel at once, each over its own SSH connection, on two threads.
    cloud = Cloud(ctx, tmp_path, sshd_server, parallel_streams=2)
    instance = cloud.api.create(ctx, hosts.flavor("SMALL,SMALL"), "compute1",
                                "project-a")  # fmt: skip
    old_data = fill(instance)
    copying_threads = set()

    def progress(report):
        copying_threads.add(threading.get_ident())

    cloud.api.resize(ctx, instance, hosts.flavor("BIG,BIG"), "compute2", True,
                     progress=progress)  # fmt: skip

    assert instance.host == "compute2"
    assert len(copying_threads) == 2
    assert threading.get_ident() not in copying_threads
    new_paths = devpaths(instance.resources)
    assert [hosts.read_device(p) for p in new_paths] == list(old_data.values())


def test_revert_finds_the_source_data_intact_and_the_destination_wiped(cloud):
    instance = cloud.boot("SMALL,BIG")
    old_data = fill(instance)
    cloud.api.migrate(cloud.ctx, instance, "compute2", True)
    new_paths = devpaths(instance.resources)
    assert [hosts.read_device(p) for p in new_paths] == list(old_data.values())

    cloud.api.revert(cloud.ctx, instance)

    assert all(is_zero(p) for p in new_paths)
    assert cloud.free("compute2") == [f"compute2-ns{i}" for i in range(4)]
    assert cloud.driver("compute2").list_instances() == []
    stored = objects.Instance.get_by_uuid(cloud.ctx, instance.uuid, ["resources"])
    assert (stored.host, stored.vm_state) == ("compute1", "active")
    for path, data in old_data.items():
        assert hosts.read_device(path) == data
    assert cloud.driver("compute1").guest_nvdimm_paths(instance) == list(old_data)


def test_cold_migration_with_copy_then_confirm(cloud):
    instance = cloud.boot("BIG")
    [(old_path, data)] = fill(instance).items()

    migration = cloud.api.migrate(cloud.ctx, instance, "compute2", True)
    cloud.api.confirm(cloud.ctx, instance)

    assert migration.migration_type == "migration"
    assert hosts.read_device(devpaths(instance.resources)[0]) == data
    assert is_zero(old_path)


def test_same_host_resize_copies_locally_and_reverts(cloud):
    instance = cloud.boot("SMALL")
    old_data = fill(instance)
    cloud.managers["compute1"].driver.conf.set_override("ssh_port", 1, "migration")

    cloud.api.resize(cloud.ctx, instance, hosts.flavor("BIG"), copy_pmem_devices=True)

    [new_path] = devpaths(instance.resources)
    assert instance.host == "compute1" and new_path not in old_data
    assert hosts.read_device(new_path) == list(old_data.values())[0]
    cloud.api.revert(cloud.ctx, instance)
    assert is_zero(new_path)
    for path, data in old_data.items():
        assert hosts.read_device(path) == data


def test_without_copy_the_new_namespaces_start_zeroed(cloud):
    instance = cloud.boot("SMALL")
    fill(instance)
    cloud.api.resize(cloud.ctx, instance, hosts.flavor("BIG"), "compute2")
    assert is_zero(devpaths(instance.resources)[0])


def test_an_old_destination_refuses_the_copy_before_anything_changes(cloud):
    instance = cloud.boot("SMALL")
    old_data = fill(instance)
    node = objects.ComputeNode.get_by_host_and_nodename(
        cloud.ctx, "compute2", "compute2"
    )
    node.service_version = 1
    node.save()

    with pytest.raises(exception.CopyNotSupportedByDestination) as err:
        cloud.api.resize(cloud.ctx, instance, hosts.flavor("BIG"), "compute2", True)

    assert "runs service version 1" in str(err.value)
    assert len(objects.MigrationList.get_by_instance(cloud.ctx, instance.uuid)) == 0
    assert cloud.free("compute2") == [f"compute2-ns{i}" for i in range(4)]
    stored = objects.Instance.get_by_uuid(cloud.ctx, instance.uuid, ["resources"])
    assert devpaths(stored.resources) == list(old_data)


def test_a_smaller_new_namespace_fails_before_any_copy(ctx, tmp_path, sshd_server):
    cloud = Cloud(ctx, tmp_path, sshd_server, sizes={"compute2": 4 * MiB})
    instance = cloud.boot("SMALL")
    fill(instance)

    with pytest.raises(exception.CopyNotPossible, match="is smaller than"):
        cloud.api.migrate(cloud.ctx, instance, "compute2", True)

    assert cloud.free("compute2") == [f"compute2-ns{i}" for i in range(4)]
    [migration] = objects.MigrationList.get_by_instance(cloud.ctx, instance.uuid)
    assert migration.status == "error"


def _break_free_devices(cloud, host):
    """Every free namespace of ``host`` becomes unopenable: daxio fails there."""
    for manager_ns in cloud.managers[host].driver.get_pmem_namespaces(host):
        path = manager_ns.devpath
        os.rename(path, path + ".away")
        os.mkdir(path)


def test_daxio_failing_at_the_destination_leaves_the_instance_on_the_source(cloud):
    instance = cloud.boot("SMALL")
    old_data = fill(instance)
    _break_free_devices(cloud, "compute2")

    with pytest.raises(exception.CopyFailed, match="compute2-ns"):
        cloud.api.resize(cloud.ctx, instance, hosts.flavor("BIG"), "compute2", True)

    assert_back_on_source(cloud, instance, old_data)
    assert cloud.driver("compute2").list_instances() == []


def test_a_corrupted_byte_fails_the_checksum_and_rolls_back(cloud):
    instance = cloud.boot("SMALL")
    old_data = fill(instance)

    # compute2's media flips a byte of every namespace it is written.
    simulated.flip_written_byte_at(cloud.driver("compute2").tools.root, 2 * MiB + 7)
    with pytest.raises(exception.CopyFailed, match="(?i)checksum|sha256|differ"):
        cloud.api.resize(cloud.ctx, instance, hosts.flavor("BIG"), "compute2", True)

    assert_back_on_source(cloud, instance, old_data)
    # The half-copied destination namespace was wiped before it went back.
    assert cloud.free("compute2") == [f"compute2-ns{i}" for i in range(4)]
    assert all(
        is_zero(ns.devpath)
        for ns in cloud.driver("compute2").get_pmem_namespaces("compute2")
    )


def test_a_connection_killed_mid_copy_rolls_back(ctx, tmp_path, sshd_server):
    cloud = Cloud(ctx, tmp_path, sshd_server, sizes={"compute1": 64 * MiB,
                                                    "compute2": 64 * MiB})  # fmt: skip
    instance = cloud.boot("SMALL")
    [path] = devpaths(instance.resources)
    hosts.write_device(path, os.urandom(60 * MiB))
    old_data = {path: hosts.read_device(path)}

    def kill(progress):
        if 0 < progress.done < progress.total:
            sshd_server.kill_connections()

    cloud.managers["compute1"].conf.set_override("progress_interval", 0, "migration")
    with pytest.raises(exception.CopyFailed):
        cloud.api.resize(
            cloud.ctx, instance, hosts.flavor("BIG"), "compute2", True, progress=kill
        )

    assert_back_on_source(cloud, instance, old_data)
    assert cloud_fixture.wait_until_all_free(cloud, "compute2")
    assert cloud.free("compute2") == [f"compute2-ns{i}" for i in range(4)]
    cloud_fixture.assert_every_free_namespace_is_zero(cloud, "compute2")


def test_resizing_to_the_flavor_it_has_is_refused_and_changes_nothing(cloud):
    instance = cloud.boot("SMALL")
    old_data = fill(instance)

    with pytest.raises(exception.InvalidMoveRequest, match="already has flavor"):
        cloud.api.resize(cloud.ctx, instance, hosts.flavor("SMALL"), "compute2")

    stored = objects.Instance.get_by_uuid(cloud.ctx, instance.uuid, ["resources"])
    assert (stored.host, stored.vm_state, stored.task_state) == (
        "compute1",
        "active",
        None,
    )
    assert list(objects.MigrationList.get_by_instance(cloud.ctx, instance.uuid)) == []
    for path, data in old_data.items():
        assert hosts.read_device(path) == data
