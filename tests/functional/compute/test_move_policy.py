"""Which moves are accepted, as in Nova: a stopped instance can be
cold-migrated and resized and stays stopped through confirm and revert; a move
stays on the instance's own host only with [DEFAULT] allow_resize_to_same_host."""

import pytest

from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.compute import api as compute_api
from pmemtrack.compute import manager as compute_manager
from pmemtrack.virt.libvirt import driver as libvirt_driver
from tests.fixtures import hosts
from tests.functional.compute import cloud as cloud_fixture

RUNNING, SHUTDOWN = cloud_fixture.RUNNING, cloud_fixture.SHUTDOWN
devpaths, fill = cloud_fixture.devpaths, cloud_fixture.fill


def _stored(cloud, instance):
    return objects.Instance.get_by_uuid(cloud.ctx, instance.uuid, ["resources"])


def _stopped_and_moved(cloud, copy=True):
    instance = cloud.boot("SMALL")
    data = fill(instance)
    cloud.api.stop(cloud.ctx, instance)
    cloud.api.migrate(cloud.ctx, instance, "compute2", copy)
    return instance, data


def test_a_stopped_instance_migrates_with_its_data_and_stays_stopped(cloud):
    instance, data = _stopped_and_moved(cloud)

    stored = _stored(cloud, instance)
    assert (stored.host, stored.vm_state, stored.power_state) == (
        "compute2", "resized", SHUTDOWN)  # fmt: skip
    [new_path] = devpaths(stored.resources)
    assert hosts.read_device(new_path) == list(data.values())[0]
    assert cloud.driver("compute2").get_info(instance).state == SHUTDOWN

    cloud.api.confirm(cloud.ctx, stored)

    confirmed = _stored(cloud, instance)
    assert (confirmed.vm_state, confirmed.power_state) == ("stopped", SHUTDOWN)
    cloud.api.start(cloud.ctx, confirmed)
    assert cloud.driver("compute2").get_info(instance).state == RUNNING


def test_a_stopped_instance_reverted_is_stopped_on_its_source(cloud):
    instance, data = _stopped_and_moved(cloud)

    cloud.api.revert(cloud.ctx, _stored(cloud, instance))

    stored = _stored(cloud, instance)
    assert (stored.host, stored.vm_state) == ("compute1", "stopped")
    assert cloud.driver("compute1").get_info(instance).state == SHUTDOWN
    for path, before in data.items():
        assert hosts.read_device(path) == before


def test_a_failed_move_of_a_stopped_instance_leaves_it_stopped(cloud):
    instance = cloud.boot("SMALL")
    cloud.api.stop(cloud.ctx, instance)
    # Both of compute2's BIG namespaces taken: the claim is refused.
    for _ in range(2):
        cloud.boot("BIG", host="compute2")

    with pytest.raises(exception.ComputeResourcesUnavailable):
        cloud.api.resize(cloud.ctx, instance, hosts.flavor("BIG"), "compute2")

    stored = _stored(cloud, instance)
    assert (stored.host, stored.vm_state, stored.task_state) == (
        "compute1", "stopped", None)  # fmt: skip
    assert cloud.driver("compute1").get_info(instance).state == SHUTDOWN


def test_a_host_restart_keeps_a_guest_that_moved_stopped_off(cloud):
    instance, _data = _stopped_and_moved(cloud)
    before = cloud.managers["compute2"]
    # A new connection to libvirt's test driver is a hypervisor that was
    # restarted: it has no guest until the service defines them again.
    driver = libvirt_driver.LibvirtDriver(conf=before.conf)
    restarted = compute_manager.ComputeManager("compute2", driver, before.conf)
    assert not driver.instance_exists(instance)

    restarted.init_host(cloud.ctx)

    assert driver.get_info(instance).state == SHUTDOWN
    assert _stored(cloud, instance).vm_state == "resized"


@pytest.fixture
def strict(cloud):
    """The same two hosts under an API with Nova's default: no same-host moves."""
    return compute_api.ComputeAPI(cloud.managers)


def test_a_move_to_its_own_host_is_refused_unless_allowed(cloud, strict):
    instance = cloud.boot("SMALL")

    for move in (
        lambda: strict.migrate(cloud.ctx, instance, "compute1"),
        lambda: strict.resize(cloud.ctx, instance, hosts.flavor("BIG"), "compute1"),
    ):
        with pytest.raises(exception.InvalidMoveRequest) as refused:
            move()
        assert "allow_resize_to_same_host" in str(refused.value)
    stored = _stored(cloud, instance)
    assert (stored.host, stored.vm_state, stored.task_state) == (
        "compute1", "active", None)  # fmt: skip
    assert objects.MigrationList.get_by_instance(cloud.ctx, instance.uuid).objects == []

    cloud.api.migrate(cloud.ctx, instance, "compute1")  # allowed there
    assert _stored(cloud, instance).vm_state == "resized"


def test_a_move_without_a_host_goes_elsewhere_unless_same_host_is_allowed(
    cloud, strict
):
    first, second = cloud.boot("SMALL"), cloud.boot("BIG")

    strict.migrate(cloud.ctx, first)
    cloud.api.migrate(cloud.ctx, second)

    assert (_stored(cloud, first).host, _stored(cloud, second).host) == (
        "compute2", "compute1")  # fmt: skip
