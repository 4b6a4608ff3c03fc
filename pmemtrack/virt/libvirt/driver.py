"""LibvirtDriver: guests with PMEM namespaces as nvdimm devices.

The driver never decides when a namespace is wiped: the resource tracker wipes
one exactly when it goes back to the free pool (through
``wipe_pmem_namespaces``). Reboot, power off/on and host restarts leave the
guest's data alone.
"""

import collections
import dataclasses
import time

from oslo_log import log as logging

from pmemtrack import conf as pmt_conf
from pmemtrack import exception
from pmemtrack.virt import driver
from pmemtrack.virt.datamover import mover
from pmemtrack.virt.libvirt import config
from pmemtrack.virt.libvirt import host as libvirt_host
from pmemtrack.virt.libvirt import lease
from pmemtrack.virt.libvirt import namespaces
from pmemtrack.virt.libvirt import privileged

LOG = logging.getLogger(__name__)
CONF = pmt_conf.CONF

# Nova's power states.
NOSTATE, RUNNING, PAUSED, SHUTDOWN, CRASHED, SUSPENDED = 0, 1, 3, 4, 6, 7
_POWER_STATE = {0: NOSTATE, 1: RUNNING, 2: RUNNING, 3: PAUSED, 4: SHUTDOWN,
                5: SHUTDOWN, 6: CRASHED, 7: SUSPENDED}  # fmt: skip
DOMAIN_PREFIX = "instance-"


@dataclasses.dataclass(frozen=True)
class InstanceInfo:
    state: int
    internal_id: str | None = None


def domain_name(instance):
    # Nova's default instance_name_template.
    return f"{DOMAIN_PREFIX}{instance.id:08x}"


def _numa_cells(instance):
    flavor = getattr(instance, "flavor", None)
    specs = flavor.extra_specs if flavor else {}
    try:
        return max(1, int(specs.get("hw:numa_nodes", 1)))
    except ValueError:
        raise exception.InvalidGuestConfig(
            instance_uuid=instance.uuid,
            reason=f"hw:numa_nodes={specs['hw:numa_nodes']!r} is not a number",
        )


def _devices(resources):
    return [r.metadata for r in resources.objects] if resources else []


class LibvirtDriver(driver.ComputeDriver):
    def __init__(self, virtapi=None, read_only=False, conf=CONF):
        self.virtapi = virtapi
        self.conf = conf
        self.host = libvirt_host.Host(conf.libvirt.connection_uri)
        self.tools = privileged.Tools(conf.pmem)
        self._config_pairs = None
        self._namespaces = []

    # -- start-up and inventory ----------------------------------------------

    def init_host(self, host):
        """Check the namespace config against what is on the host; a bad entry
        stops the service here, before any guest is touched."""
        self._config_pairs = None
        self._namespaces = self._discover()
        self.host.get_connection()
        LOG.info(
            "PMEM namespaces offered on %s: %s",
            host,
            ", ".join(f"{n.label}:{n.name}" for n in self._namespaces) or "none",
        )

    def _discover(self):
        if self._config_pairs is None:
            try:
                entries = self.conf.pmem.namespaces
            except ValueError as err:
                # oslo.config's own syntax check; its message holds the value.
                raise exception.InvalidNamespaceConfig(entry="", reason=err)
            self._config_pairs = namespaces.parse_config(entries)
        if not self._config_pairs:
            return []
        found = namespaces.discover(self.tools, self.conf.pmem)
        return namespaces.select(
            self._config_pairs, found, lambda: namespaces.every_mode(self.tools)
        )

    def get_available_nodes(self, refresh=False):
        return [self.conf.host]

    def get_pmem_namespaces(self, nodename):
        self._namespaces = self._discover()
        return list(self._namespaces)

    def get_available_resource(self, nodename):
        """Nova's resource dict, with the PMEM inventory added."""
        info = self.host.get_connection().getInfo()
        return {
            "vcpus": info[2],
            "memory_mb": info[1],
            "hypervisor_type": self.host.get_connection().getType(),
            "hypervisor_hostname": nodename,
            "pmem_namespaces": self.get_inventory(nodename),
        }

    def get_inventory(self, nodename, unavailable=()):
        """{resource class: placement-style inventory} of the node's namespaces.
        ``unavailable`` names namespaces that are counted but not usable."""
        inventory = collections.defaultdict(
            lambda: {
                "total": 0,
                "reserved": 0,
                "min_unit": 1,
                "step_size": 1,
                "allocation_ratio": 1.0,
                "namespaces": [],
            }  # fmt: skip
        )
        for ns in self.get_pmem_namespaces(nodename):
            entry = inventory[ns.resource_class]
            entry["total"] += 1
            entry["reserved"] += ns.name in unavailable
            entry["namespaces"].append(
                {"name": ns.name, "size": ns.size, "numa_node": ns.numa_node}
            )
        for entry in inventory.values():
            entry["max_unit"] = entry["total"]
        return dict(inventory)

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        inventory = self.get_inventory(nodename)
        provider_tree.update_inventory(
            nodename,
            {
                rc: {k: v for k, v in inv.items() if k != "namespaces"}
                for rc, inv in inventory.items()
            },  # fmt: skip
        )

    # -- what the hypervisor uses --------------------------------------------

    def get_pmem_namespaces_in_use(self, nodename):
        by_path = {ns.devpath: ns.name for ns in self._namespaces}
        return {
            by_path[path]: domain
            for path, domain in self.host.nvdimm_users().items()
            if path in by_path
        }

    def _discovered_device(self, device):
        """The namespace discovery found under ``device.name``, provided the
        given devpath is its device; None otherwise."""
        found = {ns.name: ns for ns in self._namespaces}.get(device.name)
        if found is None or found.devpath != device.devpath:
            return None
        return found

    def check_devices(self, devices, instance_uuid, column):
        """Raise unless each device is a discovered namespace at the devpath
        discovery found for its name: a blob is never trusted to say which
        device to give a guest (it could name another tenant's)."""
        by_name = {ns.name: ns for ns in self._namespaces}
        for device in devices:
            found = by_name.get(device.name)
            if found is None:
                raise exception.UndiscoveredDevice(path=device.devpath)
            if found.devpath != device.devpath:
                raise exception.CorruptedBlob(
                    instance_uuid=instance_uuid,
                    column=column,
                    reason=f"it names namespace {device.name} with device "
                    f"{device.devpath}, but the device of {device.name} is "
                    f"{found.devpath}",
                )

    def wipe_pmem_namespaces(self, devices):
        """Zero each device with daxio; return the names that failed. The
        caller holds each one's write fence (``pmem_exclusive``)."""
        failed = []
        for device in devices:
            found = self._discovered_device(device)
            try:
                if found is None:
                    raise exception.UndiscoveredDevice(path=device.devpath)
                started = time.monotonic()
                self.tools.zero(found.devpath)
                LOG.info("Wiped namespace %s (%s): %d bytes in %.1f s", found.name,
                         found.devpath, found.size,
                         time.monotonic() - started)  # fmt: skip
            except (exception.CommandFailed, exception.UndiscoveredDevice) as err:
                LOG.error(
                    "Wiping namespace %s failed; it stays out of the free pool "
                    "until a later wipe succeeds: %s",
                    device.name,
                    err,
                )
                failed.append(device.name)
        return failed

    def _lease(self, device):
        found = self._discovered_device(device)
        if found is None:
            raise exception.UndiscoveredDevice(path=device.devpath)
        return self.tools.lease_path(found.devpath), found.name, found.devpath

    def pmem_exclusive(self, device):
        """Hold the namespace's write fence: no copy writes it meanwhile, and
        none that starts later may (its lease is revoked). NamespaceBusy if a
        writer still runs."""
        return lease.exclusive(*self._lease(device))

    def grant_pmem_write_lease(self, devices, token):
        """Let the copy of move ``token`` write these (destination) devices."""
        for device in devices:
            lease.grant(*self._lease(device), token)

    def revoke_pmem_write_lease(self, devices):
        """End the copy's right to write; NamespaceBusy if a writer is left."""
        for device in devices:
            lease.revoke(*self._lease(device))

    # -- guests --------------------------------------------------------------

    def _guest_xml(self, instance, resources, column="instance_extra.resources"):
        self.check_devices(_devices(resources), instance.uuid, column)
        cells = _numa_cells(instance)
        guest = config.Guest(
            name=domain_name(instance),
            uuid=instance.uuid,
            memory_mb=instance.flavor.memory_mb,
            vcpus=instance.flavor.vcpus,
            nvdimms=config.from_devices(_devices(resources), cells),
            numa_cells=cells,
            domain_type=self.host.domain_type(),
        )
        config.check(guest)
        return config.to_xml(guest)

    def _define_and_start(self, instance, resources, power_on=True,
                          column="instance_extra.resources"):  # fmt: skip
        """The instance's guest, on ``resources``. A guest already defined
        under its name is replaced: the DB has just placed the instance here,
        so a running one is a leftover of an evacuation away from this host
        whose service never came back to remove it (it writes to namespaces
        already released, which cannot be wiped while it runs)."""
        leftover = self.host.lookup(domain_name(instance))
        if leftover is not None:
            if leftover.isActive():
                LOG.warning("Replacing the running guest %s of instance %s left "
                            "on this host", leftover.name(), instance.uuid)  # fmt: skip
            self._stop(leftover)
            leftover.undefine()
        domain = self.host.define(self._guest_xml(instance, resources, column))
        if power_on:
            domain.create()
        return domain

    def _domain(self, instance):
        domain = self.host.lookup(domain_name(instance))
        if domain is None:
            raise exception.InstanceNotOnHypervisor(
                instance_uuid=instance.uuid, domain=domain_name(instance)
            )
        return domain

    def spawn(self, context, instance, image_meta, injected_files,
              admin_password, allocations, network_info=None,
              block_device_info=None, power_on=True, accel_info=None):  # fmt: skip
        """Define and start the guest with the namespaces claimed for it. On
        failure the domain is removed; the caller's claim releases and wipes
        the namespaces."""
        try:
            self._define_and_start(instance, instance.resources, power_on)
        except Exception:
            self._undefine(instance)
            raise

    def _stop(self, domain):
        if domain.isActive():
            domain.destroy()

    def _undefine(self, instance):
        domain = self.host.lookup(domain_name(instance))
        if domain is not None:
            self._stop(domain)
            domain.undefine()

    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):  # fmt: skip
        self._undefine(instance)

    def cleanup(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, migrate_data=None, destroy_vifs=True,
                destroy_secrets=True):  # fmt: skip
        self._undefine(instance)

    def power_off(self, instance, timeout=0, retry_interval=0):
        self._stop(self._domain(instance))

    def power_on(self, context, instance, network_info, block_device_info=None,
                 accel_info=None, share_info=None):  # fmt: skip
        domain = self._domain(instance)
        if not domain.isActive():
            domain.create()

    def reboot(self, context, instance, network_info, reboot_type,
               block_device_info=None, bad_volumes_callback=None,
               accel_info=None, share_info=None):  # fmt: skip
        """SOFT and HARD reboots restart the same guest on the same namespaces;
        nothing is wiped."""
        domain = self._domain(instance)
        if reboot_type == "HARD":
            self._stop(domain)
            domain.create()
        elif domain.isActive():
            domain.reboot(0)
        else:
            domain.create()

    def get_info(self, instance, use_cache=True):
        domain = self._domain(instance)
        state = domain.info()[0]
        return InstanceInfo(state=_POWER_STATE.get(state, NOSTATE),
                            internal_id=domain.UUIDString())  # fmt: skip

    def list_instances(self):
        return sorted(
            d.name() for d in self.host.domains() if d.name().startswith(DOMAIN_PREFIX)
        )

    def resume_state_on_host_boot(self, context, instance, network_info,
                                  share_info, block_device_info=None):  # fmt: skip
        """Define the guest again on the namespaces it holds; start it unless
        it was stopped, or is resized after moving stopped (its guest at the
        destination was never started)."""
        moved_stopped = (
            instance.vm_state == "resized" and instance.power_state == SHUTDOWN
        )
        power_on = instance.vm_state != "stopped" and not moved_stopped
        self._define_and_start(instance, instance.resources, power_on=power_on)

    def instance_exists(self, instance):
        return self.host.lookup(domain_name(instance)) is not None

    def guest_nvdimm_paths(self, instance):
        """The device paths the guest's domain uses, read back from libvirt."""
        return config.nvdimm_paths(self._domain(instance).XMLDesc(0))

    # -- resize and cold migration ---------------------------------------------

    def migrate_disk_and_power_off(self, context, instance, dest, flavor,
                                   network_info, block_device_info=None,
                                   timeout=0, retry_interval=0):  # fmt: skip
        """Stop the guest at the source; its domain stays for a revert."""
        domain = self.host.lookup(domain_name(instance))
        if domain is not None:
            self._stop(domain)
        return "{}"

    def copy_pmem_namespaces(self, context, pairs, dest_address, progress=None,
                             lease_token=None):  # fmt: skip
        """Copy each (old, new) LibvirtVPMEMDevice pair, old on this host, new
        on ``dest_address`` (None: this host, no SSH); every copy is verified
        before this returns. With ``lease_token`` the writers at the
        destination hold the new namespaces' write leases (granted there for
        this move). Raises CopyFailed."""
        for old, _new in pairs:
            if self._discovered_device(old) is None:
                raise exception.UndiscoveredDevice(path=old.devpath)
        return mover.copy_namespaces_conf(
            pairs,
            self.tools,
            dest_address,
            self.conf.migration,
            progress,
            lease_token=lease_token,
        )

    def finish_migration(self, context, migration, instance, disk_info,
                         network_info, image_meta, resize_instance, allocations,
                         block_device_info=None, power_on=True,
                         share_info=None):  # fmt: skip
        """Start the guest at the destination on its new namespaces."""
        resources = instance.migration_context.new_resources
        if migration.source_compute == migration.dest_compute:
            self._undefine(instance)  # the stopped source guest: no leftover
        try:
            self._define_and_start(
                instance, resources, power_on, "instance_extra.migration_context"
            )
        except Exception:
            self._undefine(instance)
            raise

    def confirm_migration(self, context, migration, instance, network_info):
        """Forget the source guest (the tracker wipes its old namespaces)."""
        if migration.source_compute != migration.dest_compute:
            self._undefine(instance)

    def finish_revert_migration(self, context, instance, network_info, migration,
                                block_device_info=None, power_on=True,
                                share_info=None):  # fmt: skip
        """Run the guest on the source again, on its old namespaces (the
        tracker has already put them back in ``instance.resources``)."""
        self._undefine(instance)  # the guest of the move's destination, if here
        self._define_and_start(instance, instance.resources, power_on)
