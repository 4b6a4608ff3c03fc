"""ComputeDriver: what nova-compute and the resource tracker ask of a driver.

Method names and signatures follow Nova's ``nova.virt.driver.ComputeDriver`` for
the subset pmemtrack implements, plus the PMEM calls the tracker makes.
"""

import abc


class ComputeDriver(abc.ABC):
    """The calls every pmemtrack driver implements: Nova's, for the compute
    manager, and the PMEM ones, for the resource tracker."""

    # -- Nova's driver calls (same names, parameters and order) ----------------

    def init_host(self, host):
        """Check the host and its configuration before serving."""
        return None

    @abc.abstractmethod
    def get_available_resource(self, nodename):
        """Nova's resource dict for ``nodename``, PMEM inventory included."""

    @abc.abstractmethod
    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        """Report the node's inventory per resource class into ``provider_tree``."""

    @abc.abstractmethod
    def spawn(self, context, instance, image_meta, injected_files,
              admin_password, allocations, network_info=None,
              block_device_info=None, power_on=True, accel_info=None):  # fmt: skip
        """Define and start the guest on the namespaces in ``instance.resources``."""

    @abc.abstractmethod
    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):  # fmt: skip
        """Stop and forget the guest. Never wipes: the tracker does, on release."""

    @abc.abstractmethod
    def cleanup(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, migrate_data=None, destroy_vifs=True,
                destroy_secrets=True):  # fmt: skip
        """Forget what is left of the guest on this host."""

    @abc.abstractmethod
    def power_off(self, instance, timeout=0, retry_interval=0):
        """Stop the guest; its namespaces and their data stay."""

    @abc.abstractmethod
    def power_on(self, context, instance, network_info, block_device_info=None,
                 accel_info=None, share_info=None):  # fmt: skip
        """Start the stopped guest on the same namespaces."""

    @abc.abstractmethod
    def reboot(self, context, instance, network_info, reboot_type,
               block_device_info=None, bad_volumes_callback=None,
               accel_info=None, share_info=None):  # fmt: skip
        """Restart the guest (``SOFT`` or ``HARD``); nothing is wiped."""

    @abc.abstractmethod
    def get_info(self, instance, use_cache=True):
        """An object with the guest's Nova power ``state``."""

    @abc.abstractmethod
    def list_instances(self):
        """Names of the guests this driver runs."""

    @abc.abstractmethod
    def instance_exists(self, instance):
        """Whether the hypervisor knows the instance's guest."""

    @abc.abstractmethod
    def resume_state_on_host_boot(self, context, instance, network_info,
                                  share_info, block_device_info=None):  # fmt: skip
        """Bring back a guest a restarted hypervisor lost, on the namespaces it holds."""

    @abc.abstractmethod
    def migrate_disk_and_power_off(self, context, instance, dest, flavor,
                                   network_info, block_device_info=None,
                                   timeout=0, retry_interval=0):  # fmt: skip
        """Source side of a move: stop the guest, keep it for a revert."""

    @abc.abstractmethod
    def finish_migration(self, context, migration, instance, disk_info,
                         network_info, image_meta, resize_instance, allocations,
                         block_device_info=None, power_on=True,
                         share_info=None):  # fmt: skip
        """Destination side: start the guest on ``migration_context.new_resources``."""

    @abc.abstractmethod
    def confirm_migration(self, context, migration, instance, network_info):
        """Source side of a confirm: forget the old guest."""

    @abc.abstractmethod
    def finish_revert_migration(self, context, instance, network_info, migration,
                                block_device_info=None, power_on=True,
                                share_info=None):  # fmt: skip
        """Source side of a revert: run the guest on its old namespaces again."""

    # -- PMEM, for the resource tracker ---------------------------------------

    @abc.abstractmethod
    def get_available_nodes(self, refresh=False):
        """Names of the nodes this driver manages."""

    @abc.abstractmethod
    def get_pmem_namespaces(self, nodename):
        """The namespaces the node offers: a list of
        ``virt.namespace.DiscoveredNamespace``."""

    @abc.abstractmethod
    def get_pmem_namespaces_in_use(self, nodename):
        """{namespace name: domain name} for every namespace a guest on the
        hypervisor uses, whatever the database says (orphans are found here)."""

    @abc.abstractmethod
    def wipe_pmem_namespaces(self, devices):
        """Zero each device (name and devpath) in ``devices``, addressed by the
        devpath discovery found for its name; return the names whose wipe
        failed (they must not be handed out). The caller holds each one's
        write fence (``pmem_exclusive``)."""

    @abc.abstractmethod
    def pmem_exclusive(self, device):
        """A context manager holding the device's write fence exclusively: no
        data copy writes it while held, none may start later without a new
        lease. Raises NamespaceBusy at once if a writer still runs."""

    @abc.abstractmethod
    def grant_pmem_write_lease(self, devices, token):
        """Let the copy identified by ``token`` write these devices."""

    @abc.abstractmethod
    def revoke_pmem_write_lease(self, devices):
        """End any copy's right to write these devices; NamespaceBusy if a
        writer still runs."""

    @abc.abstractmethod
    def copy_pmem_namespaces(self, context, pairs, dest_address, progress=None,
                             lease_token=None):  # fmt: skip
        """Copy each (old, new) LibvirtVPMEMDevice pair, old on this host and
        new on ``dest_address`` (None: this host) and verify it, the writers
        holding the leases granted for ``lease_token``; a result per pair.
        Raises on any failure."""
