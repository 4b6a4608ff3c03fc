"""Wipes: the only way a released (dirty) namespace goes back to the pool.

A namespace is wiped only when nothing can still write it:
- no live instance's blob names it (it was released);
- no guest on the hypervisor uses it (an orphan is left dirty until it is gone);
- no data copy writes it: the driver's write fence (``pmem_exclusive``) is held
  exclusively for the whole wipe, which waits for no one: a copy still writing
  (a stalled destination included) keeps the namespace dirty, and a copy that
  starts later finds its write lease revoked and refuses to write.
Under the fence a committed transaction confirms the row is still dirty, and
the row becomes available before the fence is let go, so two wipers (a release
and a periodic pass in another process) can never zero a namespace someone was
given since. The confirmation is a write, not a read: on a multi-writer Galera
cluster a read returns what its node has applied, which may be a dirty row
another wiper made available (and a claim handed out) through another node a
moment ago; the write's commit then fails certification and is retried with a
fresh read.
"""

from oslo_log import log as logging

from pmemtrack import exception
from pmemtrack.db import api as db_api
from pmemtrack.objects import fields
from pmemtrack.objects import host_resource as host_resource_obj
from pmemtrack.resource_tracker import generation
from pmemtrack.resource_tracker import node_view
from pmemtrack.resource_tracker import retry

LOG = logging.getLogger(__name__)
_STATE = fields.HostResourceState


def _discover(driver, nodename):
    try:
        return driver.get_pmem_namespaces(nodename)
    except exception.PmemtrackException as err:
        # Released namespaces stay dirty; the periodic pass reports the cause.
        LOG.error("Cannot discover the namespaces of %s to wipe them: %s",
                  nodename, err)  # fmt: skip
        return []


def _candidates(context, driver, node, only, discovered):
    """The node's dirty namespaces to wipe now, as the driver found them."""
    nodename = node.hypervisor_hostname
    if discovered is None:
        discovered = _discover(driver, nodename)
    found = {ns.name: ns for ns in discovered}
    in_use = driver.get_pmem_namespaces_in_use(nodename)
    with db_api.context_manager.reader.using(context):
        view = node_view.read(context, node)
    held = view.held
    devices = []
    for ns in view.namespaces:
        if ns.state != _STATE.DIRTY or (only is not None and ns.name not in only):
            continue
        if ns.name in held:
            LOG.error(
                "Namespace %s on %s is dirty but instance %s holds it: not wiped.",
                ns.name,
                nodename,
                held[ns.name][0],
            )
        elif ns.name in in_use:
            LOG.warning(
                "Namespace %s on %s is released but guest %s still uses it "
                "(orphan): it stays dirty until that guest is gone.",
                ns.name,
                nodename,
                in_use[ns.name],
            )
        elif ns.name not in found:
            LOG.warning(
                "Namespace %s on %s is dirty but not discovered: it is wiped "
                "when it is found again.",
                ns.name,
                nodename,
            )
        else:
            devices.append(found[ns.name])
    return devices


def _decided_with_node_bumped(context, conf, node, decide):
    """Run ``decide(ctx)`` with the node's generation locked, in fresh
    transactions until one commits; when it returns True the generation is
    bumped in the same transaction. What ``decide`` returned.

    The bump is what makes a decision safe on a multi-writer Galera cluster:
    a commit whose transaction read rows that another node changed since
    fails certification (1213) and is retried with fresh reads.
    """

    def work(ctx):
        node_generation = generation.lock_node(ctx, node.id)
        if not decide(ctx):
            return False
        generation.bump_node(ctx, node.id, node_generation)
        return True

    describe = {"instance_uuid": "-", "node": node.hypervisor_hostname}
    return retry.in_fresh_transactions(context, work, conf, describe)


def _confirm_dirty(context, conf, node, name):
    """True once a committed transaction saw the row still dirty: no wipe or
    claim on the node committed between that read and its commit."""

    def still_dirty(ctx):
        return (
            host_resource_obj.HostResource.state_of(ctx, node.id, name) == _STATE.DIRTY
        )

    return _decided_with_node_bumped(context, conf, node, still_dirty)


def _mark_wiped(context, conf, node, name):
    """dirty -> available; False if the row was no longer dirty."""

    def make_available(ctx):
        changed = host_resource_obj.HostResourceList.set_state(
            ctx, node.id, [name], _STATE.AVAILABLE, only_from=_STATE.DIRTY
        )
        return changed == 1

    return _decided_with_node_bumped(context, conf, node, make_available)


def _wipe_one(context, driver, conf, node, device):
    try:
        with driver.pmem_exclusive(device):
            if not _confirm_dirty(context, conf, node, device.name):
                return False
            if driver.wipe_pmem_namespaces([device]):
                return False
            return _mark_wiped(context, conf, node, device.name)
    except exception.NamespaceBusy as err:
        LOG.warning("%s It stays dirty until a later pass.", err)
        return False


def wipe_dirty(context, driver, conf, node, only=None, discovered=None):
    """Wipe the node's dirty namespaces (those named in ``only``, if given)
    that nothing can write any more; the names now available. ``discovered``:
    the driver's namespaces, if just asked for."""
    devices = _candidates(context, driver, node, only, discovered)
    return [
        device.name
        for device in devices
        if _wipe_one(context, driver, conf, node, device)
    ]
