"""The libvirt driver with the tracker on a real DB: simulated namespaces,
libvirt's test driver, and the wipe rules of every lifecycle operation."""

import os

import pytest

from pmemtrack import exception
from pmemtrack.sandbox import simulated
from pmemtrack.virt.libvirt import host as libvirt_host
from tests.fixtures import hosts
from tests.fixtures import libvirt_schema

MiB = 1024 * 1024
PATTERN = b"pmemtrack guest data \x00\xff" * 1000


@pytest.fixture
def compute(ctx, tmp_path):
    manager = hosts.make_host(tmp_path, "compute1", {"SMALL": 2, "LARGE": 1})
    manager.init_host(ctx)
    return manager


def _devpaths(instance):
    return [r.metadata.devpath for r in instance.resources.objects]


def _is_zero(devpath):
    with open(devpath, "rb") as f:
        return not f.read().strip(b"\x00")


def _free(manager, ctx):
    return sorted(ns.name for ns in manager.tracker.free_namespaces(ctx, "compute1"))


def test_inventory_per_resource_class(compute):
    inventory = compute.driver.get_inventory("compute1")
    assert {rc: inv["total"] for rc, inv in inventory.items()} == {
        "CUSTOM_PMEM_NAMESPACE_SMALL": 2,
        "CUSTOM_PMEM_NAMESPACE_LARGE": 1,
    }
    small = inventory["CUSTOM_PMEM_NAMESPACE_SMALL"]["namespaces"]
    assert small[0] == {"name": "compute1-ns0", "size": 64 * MiB, "numa_node": 0}


def test_boot_puts_the_namespaces_in_the_domain_xml(compute, ctx):
    instance = hosts.new_instance(ctx, "SMALL,LARGE")
    compute.build_and_run_instance(ctx, instance)

    assert compute.driver.guest_nvdimm_paths(instance) == _devpaths(instance)
    assert compute.driver.get_info(instance).state == 1  # running
    assert instance.vm_state == "active"
    domain = compute.driver.host.lookup("instance-%08x" % instance.id)
    libvirt_schema.assert_valid_domain(domain.XMLDesc(0))
    assert _free(compute, ctx) == ["compute1-ns1"]
    assert compute.driver.get_pmem_namespaces_in_use("compute1") == {
        "compute1-ns0": domain.name(),
        "compute1-ns2": domain.name(),
    }


def test_reboot_power_cycle_and_host_restart_keep_the_data(compute, ctx):
    instance = hosts.new_instance(ctx, "LARGE")
    compute.build_and_run_instance(ctx, instance)
    [devpath] = _devpaths(instance)
    hosts.write_device(devpath, PATTERN, offset=MiB)

    compute.reboot_instance(ctx, instance, "SOFT")
    compute.reboot_instance(ctx, instance, "HARD")
    compute.stop_instance(ctx, instance)
    assert instance.power_state == 4  # shut down
    compute.start_instance(ctx, instance)
    # A restarted service: new driver and tracker, same libvirt, same devices.
    restarted = hosts.restart(compute)
    restarted.init_host(ctx)

    assert hosts.read_device(devpath, MiB + len(PATTERN))[MiB:] == PATTERN
    assert restarted.driver.guest_nvdimm_paths(instance) == [devpath]


def test_delete_wipes_and_frees_the_namespaces(compute, ctx):
    instance = hosts.new_instance(ctx, "SMALL")
    compute.build_and_run_instance(ctx, instance)
    [devpath] = _devpaths(instance)
    hosts.write_device(devpath, PATTERN)

    compute.terminate_instance(ctx, instance)

    assert _is_zero(devpath)
    assert _free(compute, ctx) == ["compute1-ns0", "compute1-ns1", "compute1-ns2"]
    assert compute.driver.list_instances() == []


def test_a_failed_spawn_wipes_and_frees_what_it_claimed(compute, ctx):
    for name in ("dax0.0", "dax0.1"):
        hosts.write_device(
            os.path.join(compute.conf.pmem.simulated_path, "dev", name), PATTERN
        )
    # Two guest NUMA cells need two vCPUs: the guest config is refused.
    instance = hosts.new_instance(ctx, "SMALL", vcpus=1, **{"hw:numa_nodes": "2"})

    with pytest.raises(exception.InvalidGuestConfig, match="at least as many vCPUs"):
        compute.build_and_run_instance(ctx, instance)

    assert instance.vm_state == "error"
    assert instance.resources is None
    assert _free(compute, ctx) == ["compute1-ns0", "compute1-ns1", "compute1-ns2"]
    assert _is_zero(os.path.join(compute.conf.pmem.simulated_path, "dev", "dax0.0"))
    assert compute.driver.list_instances() == []


def test_a_failed_wipe_keeps_the_namespace_out_until_a_wipe_works(compute, ctx):
    instance = hosts.new_instance(ctx, "LARGE")
    compute.build_and_run_instance(ctx, instance)
    [devpath] = _devpaths(instance)
    hosts.write_device(devpath, PATTERN)
    # The device cannot be opened: daxio fails.
    os.rename(devpath, devpath + ".away")
    os.mkdir(devpath)

    compute.terminate_instance(ctx, instance)
    assert _free(compute, ctx) == ["compute1-ns0", "compute1-ns1"]
    with pytest.raises(exception.ComputeResourcesUnavailable):
        compute.build_and_run_instance(ctx, hosts.new_instance(ctx, "LARGE"))

    os.rmdir(devpath)
    os.rename(devpath + ".away", devpath)
    report = compute.update_available_resource(ctx)["compute1"]
    assert report["rewiped"] == ["compute1-ns2"]
    assert _is_zero(devpath)
    assert _free(compute, ctx) == ["compute1-ns0", "compute1-ns1", "compute1-ns2"]


def test_a_guest_unknown_to_the_db_blocks_its_namespace(compute, ctx):
    ghost = hosts.new_instance(ctx, "SMALL")
    compute.build_and_run_instance(ctx, ghost)
    # The DB forgets the instance (say, restored from an old backup); the guest
    # still runs on the hypervisor.
    compute.tracker.delete_instance(ctx, ghost, "compute1")
    hosts.write_device(_devpaths(ghost)[0], PATTERN)

    report = compute.update_available_resource(ctx)["compute1"]
    assert report["orphans"] == {"compute1-ns0": "instance-%08x" % ghost.id}
    assert _free(compute, ctx) == ["compute1-ns1", "compute1-ns2"]


@pytest.mark.parametrize(
    "entries, fragment",
    [
        (["SMALL:compute1-ns9"], "no namespace or dax device named compute1-ns9"),
        (["SMALL:compute1-ns0", "LARGE:compute1-ns0"], "already listed"),
        (["SMALL:fs0"], "is in fsdax mode"),
    ],
)
def test_a_bad_namespace_entry_stops_init_host(compute, ctx, entries, fragment):
    simulated.create_namespace(
        compute.conf.pmem.simulated_path, "fs0", 8 * MiB, mode="fsdax"
    )
    compute.conf.set_override("namespaces", entries, "pmem")
    driver = type(compute.driver)(conf=compute.conf)
    with pytest.raises(exception.InvalidNamespaceConfig) as err:
        driver.init_host("compute1")
    assert fragment in str(err.value)


def test_a_malformed_namespaces_option_stops_init_host(compute, tmp_path):
    path = tmp_path / "bad.conf"
    path.write_text("[pmem]\nnamespaces = SMALL compute1-ns0\n")
    compute.conf.clear_override("namespaces", "pmem")
    compute.conf(["--config-file", str(path)])
    driver = type(compute.driver)(conf=compute.conf)
    with pytest.raises(exception.InvalidNamespaceConfig) as err:
        driver.init_host("compute1")
    assert "'SMALL compute1-ns0' doesn't match regex" in str(err.value)


def test_two_namespaces_on_one_chardev_stop_init_host(compute):
    # A namespace nobody configured that claims compute1-ns0's device: two
    # guests could end up on one /dev/daxX.Y, so nothing is trusted.
    root = compute.conf.pmem.simulated_path
    listed = simulated.load_namespaces(root)
    owner = next(ns for ns in listed if ns.get("name") == "compute1-ns0")
    chardev = owner["daxregion"]["devices"][0]["chardev"]
    impostor = dict(owner, dev="namespace9.0", name="stray", uuid="u-stray")
    simulated.write_namespaces(root, [*listed, impostor])
    driver = type(compute.driver)(conf=compute.conf)
    with pytest.raises(exception.DiscoveryOutputInvalid) as err:
        driver.init_host("compute1")
    assert (
        f"namespace 'namespace9.0' (name 'stray'): chardev {chardev!r} is also "
        f"the chardev of namespace {owner['dev']!r} (name 'compute1-ns0')"
    ) in str(err.value)


def test_a_restarted_hypervisor_gets_its_guests_back_with_their_data(compute, ctx):
    running = hosts.new_instance(ctx, "LARGE")
    compute.build_and_run_instance(ctx, running)
    hosts.write_device(_devpaths(running)[0], PATTERN)
    stopped = hosts.new_instance(ctx, "SMALL")
    compute.build_and_run_instance(ctx, stopped)
    compute.stop_instance(ctx, stopped)

    restarted = hosts.restart(compute)
    # A fresh connection to the node file: an empty hypervisor.
    restarted.driver.host = libvirt_host.Host(compute.conf.libvirt.connection_uri)
    assert restarted.driver.list_instances() == []
    restarted.init_host(ctx)

    assert restarted.driver.get_info(running).state == 1
    assert restarted.driver.get_info(stopped).state == 4
    assert restarted.driver.guest_nvdimm_paths(running) == _devpaths(running)
    assert hosts.read_device(_devpaths(running)[0], len(PATTERN)) == PATTERN
    assert _free(restarted, ctx) == ["compute1-ns1"]
