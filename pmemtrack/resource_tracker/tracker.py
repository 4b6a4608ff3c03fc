"""ResourceTracker: PMEM claims for one compute host, in Nova's vocabulary.

Free namespaces are computed in every claim transaction: the node's namespaces
from the unified resources table, minus those held by live instances and moves
in progress (read from their persisted blobs), minus those a guest on the
hypervisor uses without a live owner (orphans). The claim locks the node and the
project's quota anchor, writes the assignment and compare-and-updates both
generations, all in one transaction (claims.py) retried afresh when it loses a
race.
"""

from oslo_log import log as logging

from pmemtrack import exception
from pmemtrack import version
from pmemtrack.conf import CONF
from pmemtrack.objects import compute_node as compute_node_obj
from pmemtrack.objects import host_resource as host_resource_obj
from pmemtrack.resource_tracker import claims
from pmemtrack.resource_tracker import generation
from pmemtrack.resource_tracker import inventory
from pmemtrack.resource_tracker import node_view
from pmemtrack.resource_tracker import quota
from pmemtrack.resource_tracker import release
from pmemtrack.resource_tracker import retry
from pmemtrack.resource_tracker import usage
from pmemtrack.resource_tracker import wipe

LOG = logging.getLogger(__name__)


class ResourceTracker:
    def __init__(self, host, driver, conf=CONF, migration_address=None):
        self.host = host
        self.driver = driver
        self.conf = conf
        self.migration_address = migration_address
        self._nodes = {}

    # -- compute nodes -------------------------------------------------------

    def _node(self, context, nodename):
        if nodename not in self._nodes:
            self._nodes[nodename] = (
                compute_node_obj.ComputeNode.get_by_host_and_nodename(
                    context, self.host, nodename
                )
            )
        return self._nodes[nodename]

    def _ensure_node(self, context, nodename):
        try:
            node = self._node(context, nodename)
        except exception.ComputeNodeNotFound:
            node = compute_node_obj.ComputeNode(
                context,
                host=self.host,
                hypervisor_hostname=nodename,
                service_version=version.SERVICE_VERSION,
                migration_address=self.migration_address,
            )
            try:
                node.create()
            except exception.ComputeNodeExists:
                node = self._node(context, nodename)
            self._nodes[nodename] = node
        if node.service_version != version.SERVICE_VERSION:
            node.service_version = version.SERVICE_VERSION
        if self.migration_address and node.migration_address != self.migration_address:
            node.migration_address = self.migration_address
        node.save()
        return node

    # -- the periodic pass ---------------------------------------------------

    def update_available_resource(self, context, nodename):
        """Bring the node's rows up to date with the driver; report orphans;
        wipe what was released and can be wiped now."""
        node = self._ensure_node(context, nodename)
        discovered = self.driver.get_pmem_namespaces(nodename)
        in_use = self.driver.get_pmem_namespaces_in_use(nodename)
        devpaths = {ns.name: ns.devpath for ns in discovered}

        def work(ctx):
            node_generation = generation.lock_node(ctx, node.id)
            held = usage.held_names(ctx, self.host, nodename, node.uuid, devpaths)
            report = host_resource_obj.HostResourceList.sync_namespaces(
                ctx, node.id, inventory.offered(discovered), held
            )
            generation.bump_node(ctx, node.id, node_generation)
            return report, held

        report, held = self._in_transactions(context, work, node, "")
        for name in report["unavailable"]:
            LOG.warning(
                "Namespace %s on %s is held by instance %s but is no longer offered "
                "by the driver ([pmem] namespaces or discovery); it stays assigned "
                "and is marked unavailable.",
                name,
                nodename,
                held[name][0],
            )
        report["orphans"] = {n: d for n, d in in_use.items() if n not in held}
        for name, domain in sorted(report["orphans"].items()):
            LOG.warning(
                "Namespace %s on %s is used by domain %s but no live instance holds "
                "it (orphan): it will not be handed out until that guest is gone.",
                name,
                nodename,
                domain,
            )
        report["rewiped"] = self.wipe_released(context, nodename, None, discovered)
        return report

    def wipe_released(self, context, nodename, only=None, discovered=None):
        """Wipe the node's released (dirty) namespaces that nothing can write
        any more; the names that went back to the pool."""
        node = self._node(context, nodename)
        return wipe.wipe_dirty(context, self.driver, self.conf, node, only, discovered)

    # -- claims --------------------------------------------------------------
    # ``stats``, a retry.RetryStats the caller may pass to every claim, gets
    # the claim's attempts: benchmarks and race tests count the retries.

    def instance_claim(self, context, instance, nodename, request_spec=None,
                       *, stats=None):  # fmt: skip
        """Claim the namespaces of a new instance on ``nodename``."""
        return self._fresh_claim(
            context,
            instance,
            nodename,
            request_spec,
            lambda ctx, node, res: _place(ctx, instance, node, res),
            stats,
        )

    def rebuild_claim(self, context, instance, nodename, request_spec=None,
                      *, stats=None):  # fmt: skip
        """Claim afresh on ``nodename`` for a rebuild or an evacuation.

        What the instance held before (on its old host, typically down) is
        released in the same transaction: dirty, so it goes back to the pool
        only once that host has wiped it, after its guest there is gone.
        """

        def write(ctx, node, res):
            before = release.lock_holding(ctx, instance.uuid)
            _place(ctx, instance, node, res)
            now = {(r.provider_uuid, r.identifier) for r in (res or [])}
            release.mark_dirty(ctx, release.held_keys(before) - now)

        return self._fresh_claim(
            context, instance, nodename, request_spec, write, stats
        )

    def _fresh_claim(self, context, instance, nodename, request_spec, write, stats):
        resources = self._claim(
            context,
            instance,
            nodename,
            instance.flavor,
            request_spec,
            keeps_current=False,
            write=write,
            stats=stats,
        )
        return claims.Claim(self, context, instance, nodename, resources)

    def resize_claim(self, context, instance, flavor, nodename, migration,
                     request_spec=None, *, stats=None):  # fmt: skip
        """Claim the new flavor's namespaces on the destination of a move.

        The source keeps the old ones (migration_context.old_resources) until the
        move is confirmed; same-host moves never reuse them.
        """
        if migration.dest_compute != self.host or migration.dest_node != nodename:
            raise exception.InvalidClaim(
                action="claim a move",
                instance_uuid=instance.uuid,
                reason=f"migration {migration.uuid} goes to {migration.dest_compute}/"
                f"{migration.dest_node}, not {self.host}/{nodename}",
            )
        resources = self._claim(
            context,
            instance,
            nodename,
            flavor,
            request_spec,
            keeps_current=True,
            write=lambda ctx, node, res: instance.start_move(ctx, migration, node, res),
            stats=stats,
        )
        return claims.MoveClaim(self, context, instance, nodename, resources, migration)

    move_claim = resize_claim

    def _claim(self, context, instance, nodename, flavor, spec, keeps_current,
               write, stats):  # fmt: skip
        request = claims.Request.of(instance, flavor, spec, keeps_current)
        stats = stats if stats is not None else retry.RetryStats()
        node = self._node(context, nodename)
        in_use = (
            self.driver.get_pmem_namespaces_in_use(nodename) if request.wanted else {}
        )

        def work(ctx):
            return claims.claim(ctx, self.conf, node, request, in_use, write)

        try:
            resources = self._in_transactions(
                context,
                work,
                node,
                instance.uuid,
                before=lambda ctx: quota.ensure_anchor(ctx, instance.project_id),
                stats=stats,
            )
        except exception.PmemtrackException as err:
            LOG.info("Claim refused for instance %s (project %s) on %s/%s: %s",
                     instance.uuid, instance.project_id, self.host, nodename,
                     err)  # fmt: skip
            raise
        if request.wanted:
            LOG.info("Claimed %s for instance %s (project %s) on %s/%s after "
                     "%d retries", ", ".join(r.identifier for r in resources or []),
                     instance.uuid, instance.project_id, self.host, nodename,
                     stats.retries)  # fmt: skip
        return resources

    def free_namespaces(self, context, nodename):
        """The namespaces a claim on ``nodename`` could take now, in claim order."""
        node = self._node(context, nodename)
        in_use = self.driver.get_pmem_namespaces_in_use(nodename)
        view = node_view.read(context, node, verify_devpaths=True)
        return sorted(claims.free(view, in_use), key=lambda ns: ns.sort_key)

    # -- releases ------------------------------------------------------------

    def abort_instance_claim(self, context, instance, nodename):
        """Undo a failed build: release its namespaces (wiped), unplace it."""
        self._release(
            context,
            instance,
            nodename,
            lambda ctx: instance.place(ctx, None, None, None),
        )

    def delete_instance(self, context, instance, nodename):
        """Soft-delete the instance and release every namespace it names, on
        every node: its own, and both sides of a move in any state. Those on
        this host are wiped now; {node id: [names]} of everything released
        (other hosts wipe theirs in their periodic pass, or when asked)."""
        return self._release(context, instance, nodename, instance.destroy)

    def drop_move_claim_at_source(self, context, instance, migration):
        """Confirm: release (and wipe) the old namespaces on the source."""
        self._release(
            context,
            instance,
            migration.source_node,
            lambda ctx: instance.finish_move(ctx, "new", migration),
        )

    def drop_move_claim_at_dest(self, context, instance, migration):
        """Revert (or a failed move): release (and wipe) the new namespaces on
        the destination; the instance is placed on the source with its old ones."""
        self._release(
            context,
            instance,
            migration.dest_node,
            lambda ctx: instance.finish_move(ctx, "old", migration),
        )

    def apply_migration_context(self, context, instance, migration):
        """finish_resize: the instance now runs on the destination with the new
        namespaces; the old ones stay held until confirm or revert."""
        node = self._node(context, migration.dest_node)
        self._in_transactions(
            context,
            lambda ctx: instance.land_move(ctx, migration),
            node,
            instance.uuid,
        )

    def _release(self, context, instance, nodename, change):
        """Release in one transaction what ``change`` makes the instance stop
        naming (marked dirty wherever it lives), then wipe what lies on
        ``nodename``. Returns {node id: [names released]}."""
        node = self._node(context, nodename)
        describe = {"instance_uuid": instance.uuid, "node": nodename}
        try:
            released = release.release(
                context, self.conf, instance.uuid, change, describe
            )
        except exception.ComputeNodeNotFound:
            self._nodes.pop(nodename, None)
            raise
        mine = released.get(node.id, [])
        if mine:
            wiped = self.wipe_released(context, nodename, only=set(mine))
            left = sorted(set(mine) - set(wiped))
            if left:
                LOG.error(
                    "Namespaces %s on %s were released but not wiped yet: they "
                    "stay out of the free pool (state 'dirty') until a later "
                    "wipe succeeds.",
                    left,
                    nodename,
                )
        return released

    # -- helpers -------------------------------------------------------------

    def _in_transactions(self, context, work, node, instance_uuid, before=None,
                         stats=None):  # fmt: skip
        try:
            return retry.in_fresh_transactions(
                context,
                work,
                self.conf,
                {
                    "instance_uuid": instance_uuid or "-",
                    "node": node.hypervisor_hostname,
                },
                stats,
                before=before,
            )
        except exception.ComputeNodeNotFound:
            # Deleted behind this tracker: look it up again next time.
            self._nodes.pop(node.hypervisor_hostname, None)
            raise


def _place(context, instance, node, resources):
    instance.place(context, node.host, node.hypervisor_hostname, resources)
