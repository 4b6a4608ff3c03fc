"""No tenant's data reaches another tenant: what an operator sees when moves
are deleted, stall, or meet corrupted rows. Two simulated hosts, a real sshd on
127.0.0.1, the real libvirt test driver, a real DB."""

import signal
import subprocess
import time

import pytest
import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.compute import api as compute_api
from pmemtrack.compute import resize
from pmemtrack.db import models
from tests.fixtures import hosts
from tests.functional.compute.cloud import Cloud
from tests.functional.compute.cloud import MiB
from tests.functional.compute.cloud import assert_every_free_namespace_is_zero
from tests.functional.compute.cloud import crash_mid_move
from tests.functional.compute.cloud import devpaths
from tests.functional.compute.cloud import fill
from tests.functional.compute.cloud import is_zero
from tests.functional.compute.cloud import namespaces_of

RUNNING = 1
ALL = {host: [f"{host}-ns{i}" for i in range(4)] for host in ("compute1", "compute2")}


def _set_extra(db_engine, instance, **values):
    table = models.InstanceExtra.__table__
    with db_engine.begin() as conn:
        conn.execute(
            sa.update(table)
            .where(table.c.instance_uuid == instance.uuid)
            .values(**values)
        )


def _extra(db_engine, instance, column):
    table = models.InstanceExtra.__table__
    with db_engine.connect() as conn:
        return conn.execute(
            sa.select(table.c[column]).where(table.c.instance_uuid == instance.uuid)
        ).scalar()


# -- 1. deleting an instance in the middle of a move -----------------------------


def test_deleting_a_resized_instance_wipes_both_sides(cloud):
    instance = cloud.boot("SMALL")
    [old_path] = fill(instance)
    cloud.api.resize(cloud.ctx, instance, hosts.flavor("BIG"), "compute2", True)
    [new_path] = devpaths(instance.resources)
    assert not is_zero(new_path)

    cloud.api.delete(cloud.ctx, instance)

    assert is_zero(old_path) and is_zero(new_path)
    assert cloud.free("compute1") == ALL["compute1"]
    assert cloud.free("compute2") == ALL["compute2"]
    assert cloud.driver("compute1").list_instances() == []
    assert cloud.driver("compute2").list_instances() == []


def _age_moves(cloud, seconds=1):
    """Moves and tasks older than ``seconds`` count as abandoned."""
    for manager in cloud.managers.values():
        manager.conf.set_override("recovery_timeout", seconds, "migration")
    time.sleep(seconds + 0.2)


def test_deleting_after_a_crashed_move_wipes_both_sides(cloud):
    instance = cloud.boot("SMALL")
    [old_path] = fill(instance)
    migration = crash_mid_move(cloud, instance)
    [new_path] = devpaths(instance.migration_context.new_resources)
    assert not is_zero(new_path)
    with pytest.raises(exception.UnexpectedTaskStateError, match="is busy"):
        cloud.api.delete(cloud.ctx, instance)  # the move might still be alive
    _age_moves(cloud)

    cloud.api.delete(cloud.ctx, instance)

    assert objects.Migration.get_by_id(cloud.ctx, migration.id).status == "error"
    assert is_zero(old_path) and is_zero(new_path)
    assert cloud.free("compute1") == ALL["compute1"]
    assert cloud.free("compute2") == ALL["compute2"]
    assert cloud.driver("compute1").list_instances() == []
    assert cloud.driver("compute2").list_instances() == []


def test_a_delete_by_the_destination_alone_is_finished_by_the_sources_pass(cloud):
    instance = cloud.boot("SMALL")
    [old_path] = fill(instance)
    cloud.api.resize(cloud.ctx, instance, hosts.flavor("BIG"), "compute2", True)
    [new_path] = devpaths(instance.resources)
    only_dest = compute_api.ComputeAPI({"compute2": cloud.managers["compute2"]})

    only_dest.delete(cloud.ctx, instance)

    assert is_zero(new_path) and cloud.free("compute2") == ALL["compute2"]
    # compute1 still has the stopped source guest: released, never wiped under it.
    assert not is_zero(old_path) and len(cloud.free("compute1")) == 3
    cloud.managers["compute1"].update_available_resource(cloud.ctx)
    assert cloud.driver("compute1").list_instances() == []
    assert is_zero(old_path) and cloud.free("compute1") == ALL["compute1"]


# -- 5. a move whose process died is rolled back -----------------------------------


@pytest.mark.parametrize("landed", [False, True], ids=["mid-copy", "after-landing"])
def test_the_periodic_pass_rolls_back_a_move_whose_owner_died(cloud, landed):
    instance = cloud.boot("SMALL")
    old_data = fill(instance)
    migration = crash_mid_move(cloud, instance, landed=landed)
    [new_path] = devpaths(instance.migration_context.new_resources)
    cloud.managers["compute2"].update_available_resource(cloud.ctx)
    assert cloud.free("compute2") != ALL["compute2"]  # a live move keeps it
    _age_moves(cloud)

    cloud.managers["compute2"].update_available_resource(cloud.ctx)
    cloud.managers["compute1"].update_available_resource(cloud.ctx)

    assert objects.Migration.get_by_id(cloud.ctx, migration.id).status == "error"
    stored = objects.Instance.get_by_uuid(cloud.ctx, instance.uuid, ["resources"])
    assert (stored.host, stored.vm_state, stored.task_state) == (
        "compute1",
        "active",
        None,
    )
    assert devpaths(stored.resources) == list(old_data)
    for path, data in old_data.items():
        assert hosts.read_device(path) == data
    assert cloud.driver("compute1").get_info(stored).state == RUNNING
    assert cloud.driver("compute2").list_instances() == []
    assert is_zero(new_path)
    assert cloud.free("compute2") == ALL["compute2"]
    # And the instance moves again.
    cloud.api.resize(cloud.ctx, stored, hosts.flavor("BIG"), "compute2", True)
    assert (
        hosts.read_device(devpaths(stored.resources)[0]) == list(old_data.values())[0]
    )


def test_a_second_operation_is_refused_while_one_holds_the_instance(cloud):
    instance = cloud.boot("SMALL")
    [old_path] = fill(instance)
    cloud.api.resize(cloud.ctx, instance, hosts.flavor("BIG"), "compute2", True)
    [new_path] = devpaths(instance.resources)
    data = hosts.read_device(new_path)
    # A confirm in another process holds it (it set its task state).
    other = objects.Instance.get_by_uuid(cloud.ctx, instance.uuid)
    other.task_state = "resize_confirming"
    other.save(expected_task_state=[None])

    for attempt in (cloud.api.revert, cloud.api.delete, cloud.api.confirm):
        with pytest.raises(exception.UnexpectedTaskStateError) as err:
            attempt(cloud.ctx, instance)
        assert "task_state resize_confirming" in str(err.value)
    assert hosts.read_device(new_path) == data
    assert not is_zero(old_path)
    assert cloud.driver("compute2").get_info(instance).state == RUNNING


# -- 3. evacuation --------------------------------------------------------------------


@pytest.mark.parametrize("deleted_meanwhile", [False, True],
                         ids=["lives-on", "deleted-meanwhile"])  # fmt: skip
def test_an_evacuated_hosts_namespaces_are_wiped_when_it_comes_back(
    cloud, deleted_meanwhile
):
    instance = cloud.boot("SMALL")
    [old_path] = fill(instance)
    old_name = instance.resources[0].identifier

    cloud.api.evacuate(cloud.ctx, instance, "compute2")

    assert instance.host == "compute2"
    assert old_name not in cloud.free("compute1")  # released, not wiped yet
    # compute1 still runs the guest: never wiped under it.
    assert cloud.managers["compute1"].tracker.wipe_released(cloud.ctx, "compute1") == []
    assert not is_zero(old_path)
    if deleted_meanwhile:
        cloud.api.delete(cloud.ctx, instance)

    back = hosts.restart(cloud.managers["compute1"])
    back.init_host(cloud.ctx)

    assert back.driver.list_instances() == []
    assert is_zero(old_path)
    assert cloud.free("compute1") == ALL["compute1"]
    if not deleted_meanwhile:
        assert cloud.driver("compute2").get_info(instance).state == RUNNING


@pytest.mark.parametrize("back_by", ["evacuation", "migration"])
def test_moving_back_to_a_host_that_still_runs_the_old_guest_replaces_it(
    cloud, back_by
):
    """compute1 was only cut off: its guest of the instance still runs on the
    namespaces the evacuation released. Moved back before compute1's service
    restarts, the instance runs there on its new namespaces; the old guest is
    gone, and what it wrote is wiped."""
    instance = cloud.boot("SMALL")
    [old_path] = fill(instance)
    cloud.api.evacuate(cloud.ctx, instance, "compute2")
    [data] = fill(instance).values()

    if back_by == "evacuation":
        cloud.api.evacuate(cloud.ctx, instance, "compute1")
    else:
        cloud.api.migrate(cloud.ctx, instance, "compute1", copy_pmem_devices=True)
        cloud.api.confirm(cloud.ctx, instance)

    assert instance.host == "compute1"
    assert instance.vm_state == "active"
    [new_path] = devpaths(instance.resources)
    assert cloud.driver("compute1").guest_nvdimm_paths(instance) == [new_path]
    assert cloud.driver("compute1").get_info(instance).state == RUNNING
    if back_by == "evacuation":
        assert is_zero(new_path)
    else:
        assert hosts.read_device(new_path) == data
    cloud.managers["compute1"].update_available_resource(cloud.ctx)
    cloud.managers["compute2"].update_available_resource(cloud.ctx)
    assert cloud.driver("compute2").list_instances() == []
    if old_path != new_path:
        assert is_zero(old_path)
    assert_every_free_namespace_is_zero(cloud, "compute1")
    assert_every_free_namespace_is_zero(cloud, "compute2")


# -- 2. a destination that stalls mid-copy -------------------------------------------


def _wait_until_wiped(manager, ctx, name, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if name in manager.wipe_released(ctx):
            return True
        time.sleep(0.2)
    return False


def test_a_stalled_destination_never_writes_into_a_namespace_given_out_again(
    ctx,
    tmp_path,
    sshd_server,
):
    big = Cloud(ctx, tmp_path, sshd_server, sizes={"compute1": 64 * MiB,
                                                     "compute2": 64 * MiB})  # fmt: skip
    instance = big.boot("SMALL")
    [path] = devpaths(instance.resources)
    hosts.write_device(path, b"\x5a" * (60 * MiB))
    big.managers["compute1"].conf.set_override("stall_timeout", 2, "migration")
    big.managers["compute1"].conf.set_override("progress_interval", 0, "migration")
    frozen = []

    def freeze(progress):
        if progress.done >= 8 * MiB and not frozen:
            frozen.extend(sshd_server.kill_connections(signal.SIGSTOP))

    with pytest.raises(exception.CopyFailed, match="no progress for 2 seconds"):
        big.api.resize(
            big.ctx, instance, hosts.flavor("BIG"), "compute2", True, progress=freeze
        )
    assert frozen

    # The rolled-back destination namespace is released, but its writer is
    # only frozen: it stays dirty, out of the pool, while that writer lives.
    dest_row = {
        r.identifier: r.state
        for r in objects.HostResourceList.get_by_compute_node(
            ctx,
            objects.ComputeNode.get_by_host_and_nodename(
                ctx, "compute2", "compute2"
            ).id,
        )
    }
    [dirty] = [name for name, state in dest_row.items() if state == "dirty"]
    assert dirty not in big.free("compute2")
    other = big.boot("BIG", host="compute2")
    assert [r.identifier for r in other.resources] != [dirty]

    sshd_server.kill_connections(signal.SIGCONT)
    assert _wait_until_wiped(big.managers["compute2"], ctx, dirty)
    assert is_zero(namespaces_of(big, "compute2")[dirty])
    assert dirty in big.free("compute2")
    assert_every_free_namespace_is_zero(big, "compute2")


def _fenced_write(tools, token, devpath, data):
    argv = tools.fenced_daxio_argv(token, devpath, "-o", devpath, "-l", str(len(data)))
    return subprocess.run(
        argv, input=data, capture_output=True, env={**tools.env}, check=False
    )


def test_a_copy_writer_that_starts_after_the_wipe_refuses_to_write(cloud):
    driver = cloud.driver("compute2")
    device = driver.get_pmem_namespaces("compute2")[0]
    driver.grant_pmem_write_lease([device], "move-1")
    granted = _fenced_write(driver.tools, "move-1", device.devpath, b"A" * 4096)
    assert granted.returncode == 0, granted.stderr
    assert hosts.read_device(device.devpath, 4096) == b"A" * 4096

    with driver.pmem_exclusive(device):  # what a wipe holds
        pass
    late = _fenced_write(driver.tools, "move-1", device.devpath, b"B" * 4096)

    assert late.returncode == 1
    assert b"refusing to write" in late.stderr
    assert hosts.read_device(device.devpath, 4096) == b"A" * 4096
    stranger = _fenced_write(driver.tools, "move-2", device.devpath, b"C" * 4096)
    assert stranger.returncode == 1


# -- 6. an empty blob is corrupted, never "holds nothing" -------------------------


@pytest.mark.parametrize("column", ["resources", "migration_context"])
def test_an_empty_blob_is_corrupted_and_its_namespace_is_never_handed_out(
    cloud,
    db_engine,
    column,
):
    instance = cloud.boot("SMALL")
    [held] = [r.identifier for r in instance.resources]
    _set_extra(db_engine, instance, **{column: ""})

    with pytest.raises(exception.CorruptedBlob) as err:
        cloud.boot("SMALL")
    assert instance.uuid in str(err.value)
    assert f"instance_extra.{column}" in str(err.value)
    with pytest.raises(exception.CorruptedBlob):
        cloud.free("compute1")
    # Nothing was handed out: the refused boot holds no namespace.
    table = models.InstanceExtra.__table__
    with db_engine.connect() as conn:
        others = conn.execute(
            sa.select(table.c.resources).where(table.c.instance_uuid != instance.uuid)
        ).scalars()
        assert list(others) == [None]
    assert held in namespaces_of(cloud, "compute1")


# -- 8. a blob that names another namespace's device --------------------------------


def test_a_blob_naming_another_tenants_device_is_corrupted(cloud, db_engine):
    victim = cloud.boot("SMALL")
    [victim_path] = fill(victim, seed=b"V")
    victim_data = hosts.read_device(victim_path)
    tenant = cloud.boot("SMALL")
    [tenant_path] = devpaths(tenant.resources)
    blob = _extra(db_engine, tenant, "resources")
    _set_extra(db_engine, tenant, resources=blob.replace(tenant_path, victim_path))

    # A claim on that host refuses to guess.
    with pytest.raises(exception.CorruptedBlob, match="names namespace"):
        cloud.boot("BIG")
    # The guest is never defined on the other tenant's device.
    stored = objects.Instance.get_by_uuid(cloud.ctx, tenant.uuid, ["flavor",
                                                                   "resources"])  # fmt: skip
    driver = cloud.driver("compute1")
    driver.destroy(cloud.ctx, stored, None)
    with pytest.raises(exception.CorruptedBlob, match=victim_path):
        driver.resume_state_on_host_boot(cloud.ctx, stored, None, None)
    # Deleting it wipes its own namespace (found by name), not the victim's.
    cloud.api.delete(cloud.ctx, stored)
    assert hosts.read_device(victim_path) == victim_data
    assert is_zero(tenant_path)


# -- 9. the copy follows the guest's device order -----------------------------------


@pytest.mark.parametrize("new_pmem", ["SMALL,BIG", "BIG,SMALL"])
def test_each_guest_device_keeps_its_data_when_a_label_is_added(cloud, new_pmem):
    instance = cloud.boot("SMALL")
    [(_, data)] = fill(instance).items()

    cloud.api.resize(cloud.ctx, instance, hosts.flavor(new_pmem), "compute2", True)

    guest_paths = cloud.driver("compute2").guest_nvdimm_paths(instance)
    labels = [r.metadata.label for r in instance.resources]
    assert labels == new_pmem.split(",")
    assert hosts.read_device(guest_paths[0]) == data
    assert is_zero(guest_paths[1])


def test_pairs_follow_the_blob_order_and_refuse_a_smaller_device(cloud):
    instance = cloud.boot("SMALL,BIG")
    migration = cloud.api._new_migration(
        cloud.ctx, instance, hosts.flavor("BIG,SMALL"), "compute2", True
    )
    cloud.managers["compute2"].prep_resize(
        cloud.ctx, instance, migration, hosts.flavor("BIG,SMALL")
    )
    pairs = resize.pairs(instance, migration)
    assert [(o.label, n.label) for o, n in pairs] == [
        ("SMALL", "BIG"),
        ("BIG", "SMALL"),
    ]
