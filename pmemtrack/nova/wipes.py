"""Wipes of this host's namespaces, and what the host must remember about
them: failed wipes stay reserved until a later one succeeds; namespaces a
copy wrote into and nobody owns are wiped once their writer is gone. Every
wipe takes the namespace's write lease first (``virt.libvirt.lease``), so a
copy's writer never writes after it."""

import nova.privsep.libvirt
from oslo_log import log as logging

from pmemtrack import resource_class
from pmemtrack.nova import data_copy
from pmemtrack.nova import state
from pmemtrack.virt.libvirt import lease

LOG = logging.getLogger(__name__)


class Wipes:
    def __init__(self, conf, host):
        self.conf = conf
        self.unwiped, self.holders = state.for_host(conf.state_dir, host)

    def lease_path(self, devpath):
        return data_copy.lease_path(self.conf, devpath)

    def wipe(self, name, devpath):
        """Zero one released namespace (Nova's own privileged daxio call);
        on failure keep it out of the pool."""
        try:
            with lease.exclusive(self.lease_path(devpath), name, devpath):
                nova.privsep.libvirt.cleanup_vpmem(devpath)
        except Exception as err:
            LOG.error(
                "Wiping namespace %s (%s) failed; it is reported reserved and "
                "never handed out until a later wipe succeeds: %s",
                name,
                devpath,
                err,
            )
            self.unwiped.set(name, devpath)
            return False
        self.unwiped.discard(name)
        self.holders.discard(name)
        LOG.info("Wiped namespace %s (%s)", name, devpath)
        return True

    def retry_failed(self):
        for name, devpath in self.unwiped.items():
            self.wipe(name, devpath)

    def reclaim_abandoned_copies(self, devices_by_name, owned_here):
        """Wipe namespaces a copy was let into (their lease still names a
        move) that no instance or move owns (``owned_here()``, asked only
        when there are such): the copy failed or its source died, and they
        may hold part of its data."""
        granted = {
            name: device
            for name, device in devices_by_name.items()
            if lease.holds_token(self.lease_path(device.devpath))
        }
        if not granted:
            return
        for name in sorted(set(granted) - owned_here()):
            LOG.warning("Namespace %s was written by a copy that did not land "
                        "here; wiping it", name)  # fmt: skip
            self.wipe(name, granted[name].devpath)

    def end_copy_leases(self, devices):
        """The copied data is its instance's own now: no copy writes it again."""
        for device in devices:
            try:
                lease.revoke(
                    self.lease_path(device.devpath), device.name, device.devpath
                )
            except Exception as err:
                LOG.error("Could not revoke the copy's lease of %s: %s",
                          device.name, err)  # fmt: skip

    def reserve_unwiped(self, devices_by_name, inventory, resources):
        """An unwiped namespace may hold a former tenant's data: reserved, so
        placement does not count it free, and not a resource, so Nova's
        tracker never assigns it."""
        for name, _devpath in self.unwiped.items():
            device = devices_by_name.get(name)
            if device is None:
                continue
            rc = resource_class.for_label(device.label)
            inventory[rc]["reserved"] += 1
            resources[rc] = {r for r in resources[rc] if r.identifier != name}
