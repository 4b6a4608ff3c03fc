"""ComputeDriver: what nova-compute and the resource tracker ask of a driver.

Method names and signatures follow Nova's ``nova.virt.driver.ComputeDriver`` for
the subset pmemtrack implements, plus the PMEM calls the tracker makes.
"""

import abc


class ComputeDriver(abc.ABC):
    """Drivers implement the PMEM calls; the Nova calls below raise
    NotImplementedError until a driver implements them."""

    # -- Nova's driver calls (same names, parameters and order) ----------------

    def init_host(self, host):
        """Check the host and its configuration before serving."""
        return None

    def get_available_resource(self, nodename):
        raise NotImplementedError()

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        raise NotImplementedError()

    def spawn(self, context, instance, image_meta, injected_files,
              admin_password, allocations, network_info=None,
              block_device_info=None, power_on=True, accel_info=None):  # fmt: skip
        raise NotImplementedError()

    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):  # fmt: skip
        raise NotImplementedError()

    def cleanup(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, migrate_data=None, destroy_vifs=True,
                destroy_secrets=True):  # fmt: skip
        raise NotImplementedError()

    def power_off(self, instance, timeout=0, retry_interval=0):
        raise NotImplementedError()

    def power_on(self, context, instance, network_info, block_device_info=None,
                 accel_info=None):  # fmt: skip
        raise NotImplementedError()

    def reboot(self, context, instance, network_info, reboot_type,
               block_device_info=None, bad_volumes_callback=None,
               accel_info=None):  # fmt: skip
        raise NotImplementedError()

    def get_info(self, instance, use_cache=True):
        raise NotImplementedError()

    def list_instances(self):
        raise NotImplementedError()

    def instance_exists(self, instance):
        raise NotImplementedError()

    def resume_state_on_host_boot(self, context, instance, network_info,
                                  block_device_info=None):  # fmt: skip
        raise NotImplementedError()

    def migrate_disk_and_power_off(self, context, instance, dest, flavor,
                                   network_info, block_device_info=None,
                                   timeout=0, retry_interval=0):  # fmt: skip
        raise NotImplementedError()

    def finish_migration(self, context, migration, instance, disk_info,
                         network_info, image_meta, resize_instance, allocations,
                         block_device_info=None, power_on=True):  # fmt: skip
        raise NotImplementedError()

    def confirm_migration(self, context, migration, instance, network_info):
        raise NotImplementedError()

    def finish_revert_migration(self, context, instance, network_info, migration,
                                block_device_info=None, power_on=True):  # fmt: skip
        raise NotImplementedError()

    # -- PMEM, for the resource tracker ---------------------------------------

    @abc.abstractmethod
    def get_available_nodes(self, refresh=False):
        """Names of the nodes this driver manages."""

    @abc.abstractmethod
    def get_pmem_namespaces(self, nodename):
        """The namespaces the node offers: a list of
        ``resource_tracker.inventory.DiscoveredNamespace``."""

    @abc.abstractmethod
    def get_pmem_namespaces_in_use(self, nodename):
        """{namespace name: domain name} for every namespace a guest on the
        hypervisor uses, whatever the database says (orphans are found here)."""

    @abc.abstractmethod
    def wipe_pmem_namespaces(self, devices):
        """Zero each LibvirtVPMEMDevice in ``devices``; return the names whose
        wipe failed (they must not be handed out)."""
