"""ComputeManager: the instance lifecycle on one compute host.

Each operation pairs the resource tracker (what the database says the instance
holds) with the driver (what the hypervisor runs), in the order that keeps the
two consistent if the operation fails half way.
"""

from oslo_log import log as logging

from pmemtrack import conf as pmt_conf
from pmemtrack import objects
from pmemtrack.compute import recovery
from pmemtrack.compute import resize
from pmemtrack.compute.states import ACTIVE
from pmemtrack.compute.states import BUILDING
from pmemtrack.compute.states import ERROR
from pmemtrack.compute.states import RESIZED
from pmemtrack.compute.states import STOPPED
from pmemtrack.resource_tracker import tracker as rt

LOG = logging.getLogger(__name__)
RUNNING = 1  # Nova's power state


class ComputeManager(resize.ResizeMixin):
    def __init__(self, host, driver, conf=None, migration_address=None):
        self.host = host
        self.conf = conf or pmt_conf.CONF
        self.driver = driver
        self.tracker = rt.ResourceTracker(
            host, driver, self.conf, migration_address=migration_address
        )

    @property
    def nodename(self):
        return self.driver.get_available_nodes()[0]

    def init_host(self, context):
        """Check the config against the host, roll back moves whose owner
        died, report the inventory, and bring back guests the hypervisor lost
        while the service was down."""
        self.driver.init_host(self.host)
        return self.update_available_resource(context)

    def _restore_guests(self, context):
        """Guests the DB places here run as it says: a restarted hypervisor
        (libvirt's test driver forgets everything) gets them back on the
        namespaces they hold, with their data (nothing is wiped on a host
        restart), and an active instance with no task whose guest is shut off
        (a move rolled back by another host) is started again."""
        placed = objects.InstanceList.get_by_host(
            context, self.host, ["flavor", "resources"]
        )
        for instance in placed:
            if instance.vm_state not in (ACTIVE, STOPPED, RESIZED):
                continue
            if not self.driver.instance_exists(instance):
                LOG.info("Restoring the guest of instance %s", instance.uuid)
                self.driver.resume_state_on_host_boot(context, instance, None, None)
            elif instance.vm_state == ACTIVE and instance.task_state is None:
                if self.driver.get_info(instance).state != RUNNING:
                    LOG.info("Starting the guest of active instance %s",
                             instance.uuid)  # fmt: skip
                    self.driver.power_on(context, instance, None)
                    self.record_power_state(context, instance)

    def update_available_resource(self, context):
        """The periodic pass: abandoned moves rolled back, guests left behind
        by moves removed, inventory synced, released namespaces wiped, guests
        running as the DB says."""
        recovery.recover_stale(context, self.conf, self.host, {self.host: self})
        recovery.stray_guests(context, self)
        report = {
            node: self.tracker.update_available_resource(context, node)
            for node in self.driver.get_available_nodes()
        }
        self._restore_guests(context)
        return report

    def record_power_state(self, context, instance):
        instance.power_state = self.driver.get_info(instance).state
        instance.save()

    def _record(self, instance, vm_state, task_state=None):
        instance.vm_state = vm_state
        instance.task_state = task_state
        instance.power_state = (
            self.driver.get_info(instance).state
            if vm_state in (ACTIVE, STOPPED, RESIZED)
            else None
        )
        instance.save()

    def build_and_run_instance(self, context, instance, request_spec=None):
        """Claim the namespaces and start the guest on them. A failed spawn
        aborts the claim: the namespaces are wiped and freed."""
        instance.vm_state, instance.task_state = BUILDING, "spawning"
        instance.save()
        return self._spawn(context, instance, self.tracker.instance_claim,
                           request_spec)  # fmt: skip

    def rebuild_instance(self, context, instance, request_spec=None):
        """Evacuation's destination: claim afresh here (what the instance held
        elsewhere is released in the same transaction) and start the guest."""
        return self._spawn(context, instance, self.tracker.rebuild_claim,
                           request_spec)  # fmt: skip

    def _spawn(self, context, instance, claim, request_spec):
        try:
            with claim(context, instance, self.nodename, request_spec):
                self.driver.spawn(context, instance, None, [], None, {})
        except Exception:
            instance.vm_state, instance.task_state = ERROR, None
            instance.save()
            raise
        self._record(instance, ACTIVE)
        return instance

    def terminate_instance(self, context, instance):
        """Remove the guest, then delete the instance: every namespace it
        names is released; those of this host are wiped now. Returns
        {node id: [names released]} (other hosts wipe theirs)."""
        self.driver.destroy(context, instance, None)
        released = self.tracker.delete_instance(context, instance, instance.node)
        LOG.info("Deleted instance %s", instance.uuid)
        return released

    def destroy_guest(self, context, instance):
        """Remove the instance's guest from this host (the other side of a
        move it is being deleted in), so its namespaces can be wiped."""
        self.driver.destroy(context, instance, None)

    def wipe_released(self, context, names=None):
        """Wipe this host's released namespaces (only ``names``, if given)."""
        return self.tracker.wipe_released(context, self.nodename, names)

    def reboot_instance(self, context, instance, reboot_type="SOFT"):
        self.driver.reboot(context, instance, None, reboot_type)
        self._record(instance, ACTIVE)

    def stop_instance(self, context, instance):
        self.driver.power_off(instance)
        self._record(instance, STOPPED)

    def start_instance(self, context, instance):
        self.driver.power_on(context, instance, None)
        self._record(instance, ACTIVE)
