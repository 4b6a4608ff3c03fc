"""The API and conductor side: requests checked, then each step sent to the
compute host that owns it (here, a direct call to that host's manager).

Checks that can fail without changing anything run first: an unknown host, a
destination too old to receive copied data, a flavor without the labels.
"""

import uuid

from oslo_log import log as logging

from pmemtrack import conf as pmt_conf
from pmemtrack import exception
from pmemtrack import objects
from pmemtrack import version
from pmemtrack.compute import states
from pmemtrack.compute import task

LOG = logging.getLogger(__name__)
# Claims refused up front: nothing was placed or started.
_REFUSALS = (
    exception.ComputeResourcesUnavailable,
    exception.QuotaExceeded,
    exception.PmemLabelUnknown,
    exception.PmemNumaUnsatisfiable,
)


def request_spec(instance, flavor):
    numa_nodes = flavor.extra_specs.get("hw:numa_nodes")
    spec = objects.RequestSpec(
        instance._context,
        instance_uuid=instance.uuid,
        project_id=instance.project_id,
        user_id=instance.user_id,
        flavor=flavor,
        pmem_labels=flavor.pmem_labels(),
        numa_nodes=int(numa_nodes) if numa_nodes else None,
    )
    spec.obj_set_defaults()
    return spec


def _record_move(instance, dest, migration_type, new_flavor, copy=False):
    """A new migration record of ``instance`` to ``dest``, accepted."""
    migration = objects.Migration(
        instance._context,
        instance_uuid=instance.uuid,
        source_compute=instance.host,
        source_node=instance.node,
        dest_compute=dest,
        dest_node=dest,
        migration_type=migration_type,
        status="accepted",
        old_flavor=instance.flavor,
        new_flavor=new_flavor,
        copy_pmem_devices=copy,
    )
    migration.create()
    return migration


class ComputeAPI:
    def __init__(self, managers, allow_resize_to_same_host=False):
        # host name -> ComputeManager
        self.managers = dict(managers)
        # Nova's [DEFAULT] option of that name: whether a resize or cold
        # migration may stay on the instance's own host.
        self.allow_resize_to_same_host = allow_resize_to_same_host

    def check_host(self, host):
        """Raise HostNotDriven unless this deployment has ``host``."""
        self._manager(host)

    def _manager(self, host):
        try:
            return self.managers[host]
        except KeyError:
            raise exception.HostNotDriven(
                host=host, known=", ".join(sorted(self.managers)) or "none"
            )

    def _taken(self, context, instance, task_state, action, vm_states=None):
        """The instance held for one operation (compute/task.py)."""
        manager = self.managers.get(instance.host)
        conf = manager.conf if manager is not None else pmt_conf.CONF
        return task.held(
            context, conf, instance, task_state, action, vm_states, self.managers
        )

    # -- boot and delete -------------------------------------------------------

    def create(self, context, flavor, host, project_id, user_id="user", name=None):
        """Boot an instance on ``host``; its request spec is stored for moves."""
        manager = self._manager(host)
        flavor.pmem_labels()  # a malformed hw:pmem fails before any write
        instance = objects.Instance(
            context,
            uuid=str(uuid.uuid4()),
            display_name=name,
            project_id=project_id,
            user_id=user_id,
            vm_state=states.BUILDING,
            flavor=flavor,
            resources=None,
            migration_context=None,
        )
        instance.create()
        spec = request_spec(instance, flavor)
        spec.save()
        try:
            manager.build_and_run_instance(context, instance, spec)
        except _REFUSALS:
            # Refused before anything was placed: leave no instance behind.
            spec.destroy()
            instance.destroy()
            raise
        return instance

    def delete(self, context, instance):
        """Delete in any vm_state: the guests on both sides of a move are
        removed, every namespace the instance names is released and wiped by
        its own host (now when this API drives it, else in its periodic pass)."""
        if instance.host is None:
            instance.destroy()
            return
        with self._taken(context, instance, states.DELETING, "delete"):
            move = self._move_of(context, instance)
            for host in self._other_hosts(instance, move):
                if host in self.managers:
                    self.managers[host].destroy_guest(context, instance)
                else:
                    # Its own periodic pass removes the guest, then wipes.
                    LOG.warning("Host %s is not driven here: its guest of %s is "
                                "removed by its own periodic pass.", host,
                                instance.uuid)  # fmt: skip
            released = self._manager(instance.host).terminate_instance(
                context, instance
            )
            objects.RequestSpec(context, instance_uuid=instance.uuid).destroy()
            if move is not None:
                # Over: the other host's pass sees a stray guest to remove.
                move.status = "cancelled"
                move.save()
            self._wipe_elsewhere(context, released, instance.host)
            # What the caller (and the log of this operation) sees; the row
            # itself is gone.
            instance.vm_state = states.DELETED

    # -- power ------------------------------------------------------------------

    def stop(self, context, instance):
        with self._taken(
            context, instance, states.POWERING_OFF, "stop", [states.ACTIVE]
        ):
            self._manager(instance.host).stop_instance(context, instance)

    def start(self, context, instance):
        with self._taken(
            context, instance, states.POWERING_ON, "start", [states.STOPPED]
        ):
            self._manager(instance.host).start_instance(context, instance)

    def reboot(self, context, instance, reboot_type="SOFT"):
        task = states.REBOOTING_HARD if reboot_type == "HARD" else states.REBOOTING
        allowed = [states.ACTIVE, states.STOPPED]
        with self._taken(context, instance, task, "reboot", allowed):
            self._manager(instance.host).reboot_instance(context, instance, reboot_type)

    def _move_of(self, context, instance):
        """The migration of the move the instance is in (any state), or None."""
        move = instance.migration_context
        if move is None:
            return None
        return objects.Migration.get_by_id(context, move.migration_id)

    def _other_hosts(self, instance, move):
        """The other host of the move ``move`` of the instance."""
        if move is None:
            return []
        return sorted({move.source_compute, move.dest_compute} - {instance.host, None})

    def _wipe_elsewhere(self, context, released, done_on):
        for node_id, names in sorted(released.items()):
            node = objects.ComputeNode.get_by_id(context, node_id)
            if node.host != done_on and node.host in self.managers:
                self.managers[node.host].wipe_released(context, set(names))

    # -- moves ------------------------------------------------------------------

    def resize(self, context, instance, flavor, host=None, copy_pmem_devices=False,
               progress=None):  # fmt: skip
        """Resize to ``flavor`` on ``host`` (see _destination when not
        given). Returns the migration, which waits for confirm or revert."""
        if flavor.flavorid == instance.flavor.flavorid:
            # Nova's CannotResizeToSameFlavor: a move without a new flavor is
            # a migration, and says so in its record.
            raise exception.InvalidMoveRequest(
                action="resize",
                instance_uuid=instance.uuid,
                reason=f"it already has flavor {flavor.name}: choose another "
                "flavor, or migrate it to move it",
            )
        return self._resize_or_migrate(
            context, instance, flavor, host, copy_pmem_devices, progress
        )

    def _resize_or_migrate(self, context, instance, flavor, host, copy_pmem_devices,
                           progress):  # fmt: skip
        # A stopped instance moves too, and stays stopped (Nova's rule).
        allowed = [states.ACTIVE, states.STOPPED]
        dest = self._destination(instance, host)
        with self._taken(context, instance, states.RESIZE_PREP, "move", allowed):
            return self._move(
                context, instance, flavor, dest, copy_pmem_devices, progress
            )

    def _destination(self, instance, host):
        """``host``, or where a move without one goes: the instance's own
        host if same-host moves are allowed, else the first other host."""
        own = instance.host
        if host is None:
            others = sorted(set(self.managers) - {own})
            if self.allow_resize_to_same_host or not others:
                host = own
            else:
                host = others[0]
        if host == own and not self.allow_resize_to_same_host:
            raise exception.InvalidMoveRequest(
                action="move",
                instance_uuid=instance.uuid,
                reason=f"it is on {own} and [DEFAULT] allow_resize_to_same_host "
                "is false: name another host, or allow same-host moves",
            )
        return host

    def _move(self, context, instance, flavor, host, copy_pmem_devices, progress):
        migration = self._new_migration(
            context, instance, flavor, host, copy_pmem_devices
        )
        source, dest = (
            self._manager(migration.source_compute),
            self._manager(migration.dest_compute),
        )
        spec = request_spec(instance, flavor)
        try:
            dest.prep_resize(context, instance, migration, flavor, spec)
        except Exception:
            # The claim undid itself; the instance never stopped.
            migration.status = "error"
            migration.save()
            raise
        try:
            source.resize_instance(
                context,
                instance,
                migration,
                self._address(context, migration.dest_compute),
                progress,
            )
            dest.finish_resize(context, instance, migration)
        except Exception as err:
            dest.abort_resize(context, instance, migration, err)
            source.restore_at_source(context, instance, migration)
            raise
        spec.save()
        return migration

    def migrate(self, context, instance, host=None, copy_pmem_devices=False,
                progress=None):  # fmt: skip
        """Cold-migrate (same flavor) to ``host`` (see _destination when not
        given); like a resize, it waits for confirm or revert."""
        return self._resize_or_migrate(
            context, instance, instance.flavor, host, copy_pmem_devices, progress
        )

    def confirm(self, context, instance):
        with self._taken(
            context, instance, states.RESIZE_CONFIRMING, "confirm", [states.RESIZED]
        ):
            migration = self._pending(context, instance, "confirm")
            self._manager(migration.source_compute).confirm_resize(
                context, instance, migration
            )
        return migration

    def revert(self, context, instance):
        with self._taken(
            context, instance, states.RESIZE_REVERTING, "revert", [states.RESIZED]
        ):
            migration = self._pending(context, instance, "revert")
            self._manager(migration.dest_compute).revert_resize(
                context, instance, migration
            )
            self._manager(migration.source_compute).finish_revert_resize(
                context, instance, migration
            )
            request_spec(instance, migration.old_flavor).save()
        return migration

    def evacuate(self, context, instance, host):
        """Rebuild the instance on ``host`` because its own host is down: it
        starts there on new (zeroed) namespaces; those it held on the old
        host are released, and wiped by that host when it comes back, after
        it has removed the guest it still has."""
        with self._taken(
            context,
            instance,
            states.REBUILDING,
            "evacuate",
            [states.ACTIVE, states.STOPPED],
        ):
            if host == instance.host:
                raise exception.InvalidMoveRequest(
                    action="evacuate",
                    instance_uuid=instance.uuid,
                    reason=f"it is already on {host}; evacuate to another host",
                )
            dest = self._manager(host)
            migration = _record_move(instance, host, "evacuation", instance.flavor)
            try:
                dest.rebuild_instance(context, instance, request_spec(
                    instance, instance.flavor))  # fmt: skip
            except Exception:
                migration.status = "failed"
                migration.save()
                raise
            migration.status = "done"
            migration.save()
        return migration

    # -- helpers ----------------------------------------------------------------

    def _new_migration(self, context, instance, flavor, dest, copy_pmem_devices):
        self._manager(dest)
        node = objects.ComputeNode.get_by_host_and_nodename(context, dest, dest)
        if copy_pmem_devices and node.service_version < version.MIN_VERSION_COPY_PMEM:
            raise exception.CopyNotSupportedByDestination(
                host=dest,
                version=node.service_version,
                minimum=version.MIN_VERSION_COPY_PMEM,
            )
        same_flavor = flavor.flavorid == instance.flavor.flavorid
        migration = _record_move(
            instance,
            dest,
            "migration" if same_flavor else "resize",
            flavor,
            copy_pmem_devices,
        )
        return migration

    def _address(self, context, host):
        """Where the source reaches the destination over SSH."""
        node = objects.ComputeNode.get_by_host_and_nodename(context, host, host)
        return node.migration_address or host

    def _pending(self, context, instance, action):
        for migration in objects.MigrationList.get_by_instance(context, instance.uuid):
            if migration.status == "finished":
                return migration
        raise exception.InvalidMoveRequest(
            action=action,
            instance_uuid=instance.uuid,
            reason="it has no finished resize or migration waiting",
        )
