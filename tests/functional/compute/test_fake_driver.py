"""The in-memory driver behind the compute manager: the same move steps as the
libvirt driver, observed through what the fake hypervisor runs."""

from pmemtrack.compute import api as compute_api
from pmemtrack.compute import manager as compute_manager
from tests.fixtures import fake_driver
from tests.fixtures import hosts


def _host(name):
    driver = fake_driver.FakeDriver()
    driver.add_namespaces(name, "MEDIUM", 2)
    return compute_manager.ComputeManager(name, driver, migration_address="127.0.0.1")


def test_resize_with_copy_and_confirm_on_the_fake_driver(ctx):
    managers = {name: _host(name) for name in ("compute1", "compute2")}
    for manager in managers.values():
        manager.init_host(ctx)
    api = compute_api.ComputeAPI(managers)
    source, dest = managers["compute1"].driver, managers["compute2"].driver
    instance = api.create(ctx, hosts.flavor("MEDIUM"), "compute1", "project-a")
    assert source.in_use["compute1"] == {"ns0": instance.uuid}

    api.resize(ctx, instance, hosts.flavor("MEDIUM", memory_mb=512), "compute2", True)

    assert source.copies == [("ns0", "ns0", "127.0.0.1")]
    assert dest.in_use["compute2"] == {"ns0": instance.uuid}
    assert dest.instance_exists(instance)
    api.confirm(ctx, instance)
    assert source.in_use["compute1"] == {}
    assert ("/dev/dax0.0", "ns0") in source.wiped
    assert dest.get_available_resource("compute2")["pmem_namespaces"] == {
        "CUSTOM_PMEM_NAMESPACE_MEDIUM": 2
    }
