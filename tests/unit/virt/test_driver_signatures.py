"""Every driver method takes the parameters Nova 34's ComputeDriver passes.

The expected parameter lists are copied from nova 34.0.0's
``nova/virt/driver.py`` (the wheel on PyPI): nova-compute calls these methods
with positional and keyword arguments by these names, so a driver that drops
one (``share_info`` came in Nova 2024.2) fails inside a real cloud only.
"""

import inspect

import pytest

from pmemtrack.virt import driver
from pmemtrack.virt.libvirt import driver as libvirt_driver
from tests.fixtures import fake_driver

NOVA_34 = {
    "init_host": "self, host",
    "get_info": "self, instance, use_cache=True",
    "instance_exists": "self, instance",
    "list_instances": "self",
    "spawn": "self, context, instance, image_meta, injected_files, "
    "admin_password, allocations, network_info=None, block_device_info=None, "
    "power_on=True, accel_info=None",
    "destroy": "self, context, instance, network_info, block_device_info=None, "
    "destroy_disks=True, destroy_secrets=True",
    "cleanup": "self, context, instance, network_info, block_device_info=None, "
    "destroy_disks=True, migrate_data=None, destroy_vifs=True, "
    "destroy_secrets=True",
    "reboot": "self, context, instance, network_info, reboot_type, "
    "block_device_info=None, bad_volumes_callback=None, accel_info=None, "
    "share_info=None",
    "migrate_disk_and_power_off": "self, context, instance, dest, flavor, "
    "network_info, block_device_info=None, timeout=0, retry_interval=0",
    "finish_migration": "self, context, migration, instance, disk_info, "
    "network_info, image_meta, resize_instance, allocations, "
    "block_device_info=None, power_on=True, share_info=None",
    "confirm_migration": "self, context, migration, instance, network_info",
    "finish_revert_migration": "self, context, instance, network_info, "
    "migration, block_device_info=None, power_on=True, share_info=None",
    "resume_state_on_host_boot": "self, context, instance, network_info, "
    "share_info, block_device_info=None",
    "power_off": "self, instance, timeout=0, retry_interval=0",
    "power_on": "self, context, instance, network_info, block_device_info=None, "
    "accel_info=None, share_info=None",
    "update_provider_tree": "self, provider_tree, nodename, allocations=None",
    "get_available_resource": "self, nodename",
    "get_available_nodes": "self, refresh=False",
}


def _parameters(method):
    return str(inspect.signature(method))[1:-1]


@pytest.mark.parametrize(
    "cls", [driver.ComputeDriver, fake_driver.FakeDriver, libvirt_driver.LibvirtDriver]
)
@pytest.mark.parametrize("name", sorted(NOVA_34))
def test_nova_calls_each_method_with_the_parameters_it_takes(cls, name):
    assert _parameters(getattr(cls, name)) == NOVA_34[name]
