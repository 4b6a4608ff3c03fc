"""An in-memory driver for tracker tests: namespaces, guests and wipes as data.

It keeps what the hypervisor would know (which guest uses which namespace, what
was wiped) so tests can check the tracker against it.
"""

from pmemtrack.resource_tracker import inventory
from pmemtrack.virt import driver


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

    # -- helpers for tests ----------------------------------------------------

    def add_namespaces(
        self, nodename, label, count, numa_node=0, start=0, size=4 << 30
    ):
        names = []
        for i in range(start, start + count):
            name = f"ns{i}"
            self.namespaces.setdefault(nodename, []).append(
                inventory.DiscoveredNamespace(
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
