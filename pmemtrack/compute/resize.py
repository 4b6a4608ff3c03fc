"""Resize and cold migration on a compute host, in Nova's order of steps.

prep_resize (destination) claims, resize_instance (source) powers off and
copies the namespace data when asked, finish_resize (destination) starts the
guest on the new namespaces, then confirm_resize (source) or revert_resize
(destination, then finish_revert_resize on the source) ends the move. Any
failure before the guest runs at the destination puts everything back: the
destination's namespaces are wiped and freed, the migration goes to ``error``
and the guest runs on the source again with its data.
"""

import time

from oslo_log import log as logging

from pmemtrack.compute import states
from pmemtrack.virt.datamover import pairing

LOG = logging.getLogger(__name__)


class ResizeMixin:
    """The move steps of ComputeManager; each runs on the host that owns it."""

    def prep_resize(self, context, instance, migration, flavor, request_spec=None):
        """Destination: claim the new flavor's namespaces for the move and,
        when their data is to be copied, grant the copy their write leases."""
        claim = self.tracker.resize_claim(
            context, instance, flavor, migration.dest_node, migration, request_spec
        )
        with claim:
            if migration.copy_pmem_devices:
                copied = pairs(instance, migration)
                self.driver.grant_pmem_write_lease(
                    [new for _, new in copied], migration.uuid
                )
        migration.status = "pre-migrating"
        migration.save()
        return claim.resources

    def resize_instance(self, context, instance, migration, dest_address=None,
                        progress=None):  # fmt: skip
        """Source: power off and, when asked, copy each old namespace's data to
        its new namespace. Returns the copy results."""
        instance.task_state = states.RESIZE_MIGRATING
        instance.save(expected_task_state=[states.RESIZE_PREP])
        migration.status = "migrating"
        migration.save()
        self.driver.migrate_disk_and_power_off(
            context, instance, migration.dest_compute, migration.new_flavor, None
        )
        if not migration.copy_pmem_devices:
            return []
        return self.driver.copy_pmem_namespaces(
            context,
            pairs(instance, migration),
            None if migration.source_compute == migration.dest_compute
            else dest_address,
            _with_heartbeat(migration, self.conf, progress),
            lease_token=migration.uuid,
        )  # fmt: skip

    def finish_resize(self, context, instance, migration):
        """Destination: the instance now runs here on its new namespaces. The
        copy is over and verified: no writer may touch them any more."""
        instance.task_state = states.RESIZE_FINISH
        instance.save(expected_task_state=[states.RESIZE_MIGRATING])
        migration.status = "post-migrating"
        migration.save()
        if migration.copy_pmem_devices:
            self.driver.revoke_pmem_write_lease(_devices(
                instance.migration_context.new_resources))  # fmt: skip
        # A stopped instance moves stopped, as in Nova: vm_state still says
        # what it was before the move.
        power_on = instance.vm_state != states.STOPPED
        self.tracker.apply_migration_context(context, instance, migration)
        instance.flavor = migration.new_flavor
        self.driver.finish_migration(
            context, migration, instance, None, None, None, True, {}, None, power_on
        )
        migration.status = "finished"
        migration.save()
        instance.vm_state, instance.task_state = states.RESIZED, None
        instance.power_state = self.driver.get_info(instance).state
        instance.save(expected_task_state=[states.RESIZE_FINISH])

    def abort_resize(self, context, instance, migration, reason):
        """Destination, after a failure before finish_resize: wipe and free
        the new namespaces and mark the migration failed."""
        LOG.error(
            "Move %s of instance %s failed, rolling back: %s",
            migration.uuid,
            instance.uuid,
            reason,
        )
        self.revert_resize(context, instance, migration)
        migration.status = "error"
        migration.save()

    def restore_at_source(self, context, instance, migration):
        """Source, after a failed move: the guest runs again on its old
        namespaces, whose data was never touched; a stopped one stays
        stopped (the move failed before it became resized)."""
        stopped = instance.vm_state == states.STOPPED
        self.driver.finish_revert_migration(
            context, instance, None, migration, None, not stopped
        )
        instance.vm_state = states.STOPPED if stopped else states.ACTIVE
        instance.task_state = None
        instance.flavor = migration.old_flavor
        instance.power_state = self.driver.get_info(instance).state
        instance.save()

    def confirm_resize(self, context, instance, migration):
        """Source: forget the old guest; wipe and free the old namespaces."""
        self.driver.confirm_migration(context, migration, instance, None)
        self.tracker.drop_move_claim_at_source(context, instance, migration)
        migration.status = "confirmed"
        migration.save()
        instance.vm_state, instance.task_state = states.settled(instance), None
        instance.save()

    def revert_resize(self, context, instance, migration):
        """Destination: stop the new guest; wipe and free the new namespaces.
        finish_revert_resize on the source follows (on the same host it defines
        the guest again on the old namespaces)."""
        self.driver.destroy(context, instance, None)
        self.tracker.drop_move_claim_at_dest(context, instance, migration)

    def finish_revert_resize(self, context, instance, migration):
        """Source: run the guest again on its old namespaces and data."""
        instance.flavor = migration.old_flavor
        vm_state = states.settled(instance)
        self.driver.finish_revert_migration(
            context, instance, None, migration, None, vm_state == states.ACTIVE
        )
        migration.status = "reverted"
        migration.save()
        instance.vm_state, instance.task_state = vm_state, None
        instance.power_state = self.driver.get_info(instance).state
        instance.save()


def pairs(instance, migration):
    """(old device, new device) in the guest's device order (its blobs' order,
    which a claim writes in the flavor's hw:pmem order)."""
    context = instance.migration_context
    return pairing.in_guest_order(
        _devices(context.old_resources), _devices(context.new_resources), migration.uuid
    )


def _with_heartbeat(migration, conf, progress):
    """``progress`` that also touches the migration record every
    recovery_timeout / 4 seconds: a long copy is not taken for abandoned."""
    interval = conf.migration.recovery_timeout / 4
    last = time.monotonic()

    def report(done):
        nonlocal last
        if time.monotonic() - last >= interval:
            migration.touch()
            last = time.monotonic()
        if progress is not None:
            progress(done)

    return report


def _devices(resources):
    return [r.metadata for r in resources.objects] if resources else []
