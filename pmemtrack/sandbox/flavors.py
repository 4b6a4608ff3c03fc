"""The embedded default's flavors, stored in its database when it starts.

Flavors live in the database (``pmemtrack-manage flavor create``); the
embedded default adds these five, which cover both of its labels, so its
demo and a first ``pmemtrack server create`` need no set-up.
"""

from pmemtrack import exception
from pmemtrack import objects

# name -> (memory_mb, vcpus, hw:pmem or None)
EMBEDDED = {
    "m1.small": (512, 1, None),
    "pmem.medium": (512, 1, "MEDIUM"),
    "pmem.medium.x2": (1024, 2, "MEDIUM,MEDIUM"),
    "pmem.large": (1024, 2, "LARGE"),
    "pmem.mixed": (1024, 2, "MEDIUM,LARGE"),
}


def ensure_embedded(context):
    """Store each of the embedded default's flavors that is missing (the
    demo relies on them); one of that name the operator changed is kept."""
    known = {flavor.name for flavor in objects.FlavorList.get_all(context)}
    for name, (memory_mb, vcpus, pmem) in EMBEDDED.items():
        if name in known:
            continue
        flavor = objects.Flavor(
            context,
            flavorid=name,
            name=name,
            memory_mb=memory_mb,
            vcpus=vcpus,
            extra_specs={"hw:pmem": pmem} if pmem else {},
        )
        try:
            flavor.create()
        except exception.FlavorExists:
            pass  # another process of the embedded default stored it first
