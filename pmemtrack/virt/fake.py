"""An in-memory driver for tracker tests: namespaces, guests and wipes as data.

It keeps what the hypervisor would know (which guest uses which namespace, what
was wiped) so tests can check the tracker against it.
"""

import collections
import contextlib
import types

from pmemtrack import exception
from pmemtrack.virt import driver
from pmemtrack.virt import namespace

NOSTATE, RUNNING, SHUTDOWN = 0, 1, 4


class FakeDriver(driver.ComputeDriver):
    def __init__(self, namespaces_by_node=None):
        # nodename -> [DiscoveredNamespace]
        self.namespaces = dict(namespaces_by_node or {})
        # nodename -> {namespace name: domain name}, guests on the hypervisor.
        self.in_use = {}
        # Every wipe asked for, in order, as (devpath, name).
        self.wiped = []
        # Names whose wipe fails until removed from this set.
        self.failing_wipes = set()
        # Instance uuids whose spawn raises.
        self.failing_spawns = set()
        # instance uuid -> Nova power state.
        self.power = {}
        self.copies = []
        # Namespace names a data copy still writes (their fence is held).
        self.writers = set()
        # Namespace name -> the token of the copy allowed to write it.
        self.leases = {}

    def get_available_nodes(self, refresh=False):
        return sorted(self.namespaces)

    def get_pmem_namespaces(self, nodename):
        return list(self.namespaces.get(nodename, []))

    def get_pmem_namespaces_in_use(self, nodename):
        return dict(self.in_use.get(nodename, {}))

    def wipe_pmem_namespaces(self, devices):
        failed = []
        for device in devices:
            if device.name in self.failing_wipes:
                failed.append(device.name)
                continue
            self.wiped.append((device.devpath, device.name))
        return failed

    # -- guests, as the hypervisor would run them --------------------------------

    def _run(self, instance, resources, node):
        names = [r.identifier for r in resources.objects] if resources else []
        self.stop_guest(node, instance.uuid)
        self.start_guest(node, instance.uuid, names)
        self.power[instance.uuid] = RUNNING

    def spawn(self, context, instance, image_meta, injected_files,
              admin_password, allocations, network_info=None,
              block_device_info=None, power_on=True, accel_info=None):  # fmt: skip
        if instance.uuid in self.failing_spawns:
            raise RuntimeError(f"spawn of {instance.uuid} failed (injected)")
        self._run(instance, instance.resources, instance.node)

    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):  # fmt: skip
        for node in list(self.in_use):
            self.stop_guest(node, instance.uuid)
        self.power.pop(instance.uuid, None)

    def cleanup(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, migrate_data=None, destroy_vifs=True,
                destroy_secrets=True):  # fmt: skip
        self.destroy(context, instance, network_info)

    def power_off(self, instance, timeout=0, retry_interval=0):
        self.power[instance.uuid] = SHUTDOWN

    def power_on(self, context, instance, network_info, block_device_info=None,
                 accel_info=None, share_info=None):  # fmt: skip
        self.power[instance.uuid] = RUNNING

    def reboot(self, context, instance, network_info, reboot_type,
               block_device_info=None, bad_volumes_callback=None,
               accel_info=None, share_info=None):  # fmt: skip
        self.power[instance.uuid] = RUNNING

    def get_available_resource(self, nodename):
        counts = collections.Counter(
            ns.resource_class for ns in self.namespaces.get(nodename, [])
        )
        return {"hypervisor_hostname": nodename, "pmem_namespaces": dict(counts)}

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        counts = self.get_available_resource(nodename)["pmem_namespaces"]
        provider_tree.update_inventory(
            nodename, {rc: {"total": n, "reserved": 0} for rc, n in counts.items()}
        )

    def instance_exists(self, instance):
        return instance.uuid in self.power

    def resume_state_on_host_boot(self, context, instance, network_info,
                                  share_info, block_device_info=None):  # fmt: skip
        self._run(instance, instance.resources, instance.node)

    def migrate_disk_and_power_off(self, context, instance, dest, flavor,
                                   network_info, block_device_info=None,
                                   timeout=0, retry_interval=0):  # fmt: skip
        self.power[instance.uuid] = SHUTDOWN
        return "{}"

    def finish_migration(self, context, migration, instance, disk_info,
                         network_info, image_meta, resize_instance, allocations,
                         block_device_info=None, power_on=True,
                         share_info=None):  # fmt: skip
        if migration.source_node == migration.dest_node:
            self.stop_guest(migration.source_node, instance.uuid)
        self._run(instance, instance.migration_context.new_resources,
                  migration.dest_node)  # fmt: skip

    def confirm_migration(self, context, migration, instance, network_info):
        if migration.source_node != migration.dest_node:
            self.stop_guest(migration.source_node, instance.uuid)

    def finish_revert_migration(self, context, instance, network_info, migration,
                                block_device_info=None, power_on=True,
                                share_info=None):  # fmt: skip
        self._run(instance, instance.resources, migration.source_node)

    @contextlib.contextmanager
    def pmem_exclusive(self, device):
        if device.name in self.writers:
            raise exception.NamespaceBusy(
                name=device.name, devpath=device.devpath, fence="(fake)"
            )
        self.leases.pop(device.name, None)
        yield

    def grant_pmem_write_lease(self, devices, token):
        for device in devices:
            self.leases[device.name] = token

    def revoke_pmem_write_lease(self, devices):
        for device in devices:
            with self.pmem_exclusive(device):
                pass

    def copy_pmem_namespaces(self, context, pairs, dest_address, progress=None,
                             lease_token=None):  # fmt: skip
        # What would be copied, as (old name, new name, destination).
        self.copies.extend((old.name, new.name, dest_address) for old, new in pairs)
        return []

    def get_info(self, instance, use_cache=True):
        return types.SimpleNamespace(state=self.power.get(instance.uuid, NOSTATE))

    def list_instances(self):
        return sorted(self.power)

    # -- helpers for tests ----------------------------------------------------

    def add_namespaces(
        self, nodename, label, count, numa_node=0, start=0, size=4 << 30
    ):
        names = []
        for i in range(start, start + count):
            name = f"ns{i}"
            self.namespaces.setdefault(nodename, []).append(
                namespace.DiscoveredNamespace(
                    name=name,
                    label=label,
                    devpath=f"/dev/dax{numa_node}.{i}",
                    size=size,
                    align=2 * 1024 * 1024,
                    numa_node=numa_node,
                    uuid=f"00000000-0000-4000-8000-{i:012d}",
                    dev=f"namespace{numa_node}.{i}",
                )
            )
            names.append(name)
        return names

    def start_guest(self, nodename, domain, names):
        for name in names:
            self.in_use.setdefault(nodename, {})[name] = domain

    def stop_guest(self, nodename, domain):
        in_use = self.in_use.get(nodename, {})
        for name in [n for n, d in in_use.items() if d == domain]:
            del in_use[name]
