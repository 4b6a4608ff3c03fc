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
