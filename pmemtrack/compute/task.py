"""One operation at a time per instance: its task_state, taken and given back.

Every lifecycle operation takes the instance with a compare-and-update of
``task_state`` from None (Nova's ``expected_task_state``), so a second one at
the same time is refused before anything is wiped or changed. An operation
abandoned by a process that died is rolled back first (compute/recovery.py).
"""

import contextlib

from oslo_log import log as logging

from pmemtrack import exception
from pmemtrack.compute import recovery
from pmemtrack.resource_tracker import retry

LOG = logging.getLogger(__name__)

# Why an operation refuses an instance in another vm_state.
_NEEDS = {
    "move": "it is {}; only an active or stopped instance moves",
    "confirm": "it has no finished resize or migration waiting (it is {})",
    "revert": "it has no finished resize or migration waiting (it is {})",
    "stop": "it is {}; only an active instance can be stopped",
    "start": "it is {}; only a stopped instance can be started",
    "reboot": "it is {}; only an active or stopped instance can be rebooted",
    "evacuate": "it is {}; only an active or stopped instance can be evacuated",
}


@contextlib.contextmanager
def held(context, conf, instance, task_state, action, vm_states, managers):
    """Hold ``instance`` for ``action``: refused (UnexpectedTaskStateError)
    while another operation holds it, or (InvalidMoveRequest) unless its
    vm_state is one of ``vm_states``. Given back when the operation ends,
    failed or not. ``managers``: the hosts this process drives, for rolling
    back an abandoned move."""
    try:
        _take(context, conf, instance, task_state, action, vm_states)
    except exception.UnexpectedTaskStateError:
        if not recovery.recover_abandoned(context, conf, instance, managers):
            raise
        instance.refresh()
        _take(context, conf, instance, task_state, action, vm_states)
    where = (instance.vm_state, instance.host)
    LOG.info("Instance %s: %s started (%s on %s)", instance.uuid, action, *where)
    try:
        yield
    except Exception as err:
        LOG.info("Instance %s: %s failed (%s on %s): %s", instance.uuid, action,
                 *where, err)  # fmt: skip
        raise
    else:
        LOG.info("Instance %s: %s done (%s on %s, now %s on %s)", instance.uuid,
                 action, *where, instance.vm_state, instance.host)  # fmt: skip
    finally:
        _give_back(context, conf, instance, task_state)


def _compare_and_set(context, conf, instance, expected):
    """Save ``instance`` only if its stored task_state is ``expected``.

    On a multi-writer Galera cluster two nodes' compare-and-updates of one
    row can both pass, each on its own node; the later COMMIT then fails
    certification (a DBDeadlock). That is a lost race: retried in a fresh
    transaction, the write finds the winner's task_state and is refused.
    """
    retry.in_fresh_transactions(
        context,
        lambda ctx: instance.save(expected_task_state=expected),
        conf,
        {"instance_uuid": instance.uuid, "node": instance.node},
    )


def _refuse_unless_in(instance, action, vm_states):
    if vm_states is not None and instance.vm_state not in vm_states:
        raise exception.InvalidMoveRequest(
            action=action,
            instance_uuid=instance.uuid,
            reason=_NEEDS[action].format(instance.vm_state),
        )


def _take(context, conf, instance, task_state, action, vm_states):
    _refuse_unless_in(instance, action, vm_states)
    instance.task_state = task_state
    try:
        _compare_and_set(context, conf, instance, [None])
    except exception.UnexpectedTaskStateError:
        instance.refresh()
        raise
    # Held now, nobody else changes it: act on what it is, not on what it
    # was when the caller read it (another operation may have ended since).
    instance.refresh()
    try:
        _refuse_unless_in(instance, action, vm_states)
    except exception.InvalidMoveRequest:
        _give_back(context, conf, instance, task_state)
        raise


def _give_back(context, conf, instance, task_state):
    if instance.task_state is None:
        return  # the operation's last write gave it back
    instance.task_state = None
    try:
        _compare_and_set(context, conf, instance, [task_state])
    except (exception.InstanceNotFound, exception.UnexpectedTaskStateError):
        # Deleted, or taken over by a recovery: not ours to give back.
        pass
