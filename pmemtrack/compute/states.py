"""Instance vm_state and task_state values, as Nova spells them."""

ACTIVE = "active"
BUILDING = "building"
STOPPED = "stopped"
RESIZED = "resized"
ERROR = "error"
DELETED = "deleted"

RESIZE_PREP = "resize_prep"
RESIZE_MIGRATING = "resize_migrating"
RESIZE_FINISH = "resize_finish"
RESIZE_CONFIRMING = "resize_confirming"
RESIZE_REVERTING = "resize_reverting"
DELETING = "deleting"
REBOOTING = "rebooting"
REBOOTING_HARD = "rebooting_hard"
POWERING_OFF = "powering-off"
POWERING_ON = "powering-on"
REBUILDING = "rebuilding"

SHUTDOWN = 4  # Nova's power state of a guest that is shut off


def settled(instance):
    """What a resized instance is once its move is confirmed or reverted:
    stopped if it moved stopped (its guest at the destination was never
    started: Nova's rule), else active."""
    return STOPPED if instance.power_state == SHUTDOWN else ACTIVE


# The task states of a move: a move whose owner died is rolled back.
MOVE_TASKS = (RESIZE_PREP, RESIZE_MIGRATING, RESIZE_FINISH)
