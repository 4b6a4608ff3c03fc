"""pmemtrack's driver inside nova-compute: Nova's libvirt driver with vPMEM
done right.

Everything else (images, networks, volumes, live migration, evacuate,
shelve) is Nova's own code, inherited. Nova's resource tracker keeps owning
``instance.resources`` and the migration context; this driver opens no
database. What changes against Nova's vPMEM:

- a hard reboot (also reached by power on and a host restart) keeps the
  guest's namespaces and their data; Nova wipes them;
- resize and cold migration copy each namespace's data into its new one, when
  the flavor asks (``pmemtrack:copy_pmem_devices``), verified end to end;
- each nvdimm sits on the guest NUMA cell of its namespace's host node, at a
  size aligned to the namespace's alignment;
- a namespace whose wipe failed is never handed out again until a later wipe
  succeeds; discovery is validated (CXL dax devices too) with errors that name
  the entry to fix.

- a wipe takes the namespace's write lease, so a copy's writer left behind
  never writes after it; a host an instance was evacuated from wipes exactly
  that instance's namespaces when it comes back.

Nova keeps the vPMEM logic in private methods of its driver; the overrides
below (``_discover_vpmems``, ``_get_vpmems``, ``_cleanup_vpmems``,
``_hard_reboot``, ``_get_guest_config``, ``_update_provider_tree_for_vpmems``,
besides public ``init_host``, ``update_provider_tree``, ``power_off``,
``migrate_disk_and_power_off`` and ``finish_migration``) are checked against
nova 34.0.0 by Nova's own vPMEM and driver tests, which CI runs on this class.
"""

import collections

from nova import context as nova_context
from nova import exception as nova_exception
from nova import objects as nova_objects
import nova.privsep.libvirt
from nova.virt.libvirt import driver as nova_libvirt
from oslo_config import cfg
from oslo_log import log as logging

from pmemtrack.nova import conf as nova_conf
from pmemtrack.nova import data_copy
from pmemtrack.nova import ownership
from pmemtrack.nova import privileged
from pmemtrack.nova import vpmem
from pmemtrack.nova import wipes

LOG = logging.getLogger(__name__)
CONF = cfg.CONF
nova_conf.register_opts(CONF)


class LibvirtDriver(nova_libvirt.LibvirtDriver):
    def __init__(self, virtapi, read_only=False):
        # Nova's constructor discovers the namespaces (through the override
        # below), so what discovery fills in exists before it runs.
        self._host_node_of_devpath = {}
        self._keeping_pmem = set()
        self._moving = {}
        super().__init__(virtapi, read_only)
        self._hostname = CONF.host
        self._wipes = wipes.Wipes(CONF.pmemtrack, CONF.host)

    def init_host(self, host):
        # Before Nova's own start-up work: it removes the guests of instances
        # evacuated from this host, which wipes their namespaces (below).
        self._hostname = host
        self._wipes = wipes.Wipes(CONF.pmemtrack, host)
        return super().init_host(host)

    # -- discovery and inventory -----------------------------------------------

    def _discover_vpmems(self, vpmem_conf):
        if not vpmem_conf:
            return {}, {}
        try:
            ndctl_text = nova.privsep.libvirt.get_pmem_namespaces()
        except Exception as err:
            raise nova_exception.GetPMEMNamespacesFailed(
                reason=f"ndctl list -X failed (is ndctl installed?): {err}"
            )
        daxctl_text = None
        if CONF.pmemtrack.discover_dax_devices:
            daxctl_text = privileged.daxctl_list(
                CONF.pmemtrack.daxctl_path, CONF.pmemtrack.command_timeout
            )
        found = vpmem.discover(vpmem_conf, ndctl_text, CONF.pmemtrack, daxctl_text)
        by_name = {ns.name: vpmem.device(ns) for ns in found}
        by_rc = collections.defaultdict(list)
        for ns in found:
            by_rc[ns.resource_class].append(by_name[ns.name])
        self._host_node_of_devpath = {ns.devpath: ns.numa_node for ns in found}
        return by_name, by_rc

    @property
    def static_traits(self):
        # The scheduler's service-version gate: a flavor asking for a copy
        # requires this trait, so no host without the copy is picked.
        return {**super().static_traits, nova_conf.COPY_TRAIT: True}

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        self._wipes.retry_failed()
        self._wipes.reclaim_abandoned_copies(self._vpmems_by_name, self._owned_here)
        super().update_provider_tree(provider_tree, nodename, allocations)

    def _owned_here(self):
        return ownership.names_owned_here(
            nova_context.get_admin_context(),
            self._hostname,
            self._host.get_hostname(),
            self._host.get_node_uuid(),
        )

    def _update_provider_tree_for_vpmems(self, provider_tree, nodename,
                                         inventory, resources):  # fmt: skip
        super()._update_provider_tree_for_vpmems(
            provider_tree, nodename, inventory, resources
        )
        self._wipes.reserve_unwiped(self._vpmems_by_name, inventory, resources)

    # -- wipes: exactly when a namespace is released ---------------------------

    def _hard_reboot(self, context, instance, *args, **kwargs):
        # Nova's hard reboot destroys the domain through cleanup(), which
        # wipes the instance's namespaces: the guest would come back to
        # empty persistent memory. The namespaces stay the instance's, so
        # their data stays too.
        self._keeping_pmem.add(instance.uuid)
        try:
            return super()._hard_reboot(context, instance, *args, **kwargs)
        finally:
            self._keeping_pmem.discard(instance.uuid)

    def _get_vpmems(self, instance, prefix=None):
        """The namespaces of this host to wipe when Nova cleans ``instance``
        up: never during a hard reboot; otherwise those its resources name on
        this host's provider (a blob naming another host's namespace must not
        wipe the namespace of that name here) and those it last had a guest
        on here (after an evacuation Nova's records point elsewhere)."""
        if prefix is None and instance.uuid in self._keeping_pmem:
            return []
        if prefix is None:
            resources = instance.resources or []
            names = set(self._wipes.holders.names_of(instance.uuid))
        else:
            resources = self._migration_resources(instance, prefix)
            names = set()
        names |= ownership.names_on(resources, self._host.get_node_uuid())
        return [
            self._vpmems_by_name[n] for n in sorted(names) if n in self._vpmems_by_name
        ]

    @staticmethod
    def _migration_resources(instance, prefix):
        # Nova 34 looks for "oldresources" (no underscore) in the migration
        # context, finds nothing, and never wipes the source's namespaces on
        # confirm: the next tenant would read the old one's data.
        context = instance.migration_context
        field = f"{prefix}_resources"
        if context is None or not context.obj_attr_is_set(field):
            return []
        return getattr(context, field) or []

    def _cleanup_vpmems(self, vpmems):
        for device in vpmems:
            self._wipes.wipe(device.name, device.devpath)

    # -- guests ------------------------------------------------------------------

    def _get_guest_config(self, instance, *args, **kwargs):
        guest = super()._get_guest_config(instance, *args, **kwargs)
        vpmem.place(guest, self._host_node_of_devpath)
        for name in vpmem.names_in(guest, self._vpmems_by_name):
            self._wipes.holders.set(name, instance.uuid)
        return guest

    # -- resize and cold migration -------------------------------------------------

    def migrate_disk_and_power_off(self, context, instance, dest, flavor,
                                   network_info, block_device_info=None,
                                   timeout=0, retry_interval=0):  # fmt: skip
        """Nova's resize at the source; when the new flavor asks, each old
        namespace is copied into its new one on ``dest`` right after the
        guest is powered off, before Nova moves any disk (``power_off``)."""
        if data_copy.wanted(flavor, CONF.pmemtrack):
            self._moving[instance.uuid] = _Move(
                context, dest, flavor, network_info, block_device_info
            )
        try:
            return super().migrate_disk_and_power_off(
                context, instance, dest, flavor, network_info,
                block_device_info, timeout, retry_interval,
            )  # fmt: skip
        finally:
            self._moving.pop(instance.uuid, None)

    def finish_migration(self, context, migration, instance, *args, **kwargs):
        """Nova's finish at the destination; then the copied data is the
        instance's own: the copy's write leases are revoked."""
        result = super().finish_migration(context, migration, instance, *args, **kwargs)
        self._wipes.end_copy_leases(self._get_vpmems(instance, prefix="new"))
        return result

    def power_off(self, instance, timeout=0, retry_interval=0):
        super().power_off(instance, timeout, retry_interval)
        move = self._moving.get(instance.uuid)
        if move is not None:
            self._copy_pmem(instance, move)

    def _copy_pmem(self, instance, move):
        """Copy and verify; a failure starts the guest again here and raises
        InstanceFaultRollback, so Nova leaves the instance ACTIVE on this
        host with its data (the migration goes to error, its claim and
        allocations are given back)."""
        try:
            migration = nova_objects.Migration.get_by_id(
                move.context, instance.migration_context.migration_id
            )
            same_host = migration.source_compute == migration.dest_compute
            pairs = data_copy.pairs(self, instance, move.flavor, migration.uuid)
            copy_request = data_copy.request(
                pairs, move.dest, same_host, migration.uuid, CONF.pmemtrack
            )
            for result in privileged.copy_namespaces(copy_request):
                LOG.info(
                    "Copied namespace %(name)s to %(destination)s: "
                    "%(bytes_total)d bytes in %(seconds).1f s, verified "
                    "(sha256 %(checksum)s)",
                    result,
                    instance=instance,
                )
        except Exception as err:
            LOG.error("PMEM data copy failed; the instance stays on this host "
                      "with its data: %s", err, instance=instance)  # fmt: skip
            self.power_on(move.context, instance, move.network_info,
                          move.block_device_info)  # fmt: skip
            raise nova_exception.InstanceFaultRollback(inner_exception=err)


_Move = collections.namedtuple(
    "_Move", ["context", "dest", "flavor", "network_info", "block_device_info"]
)
