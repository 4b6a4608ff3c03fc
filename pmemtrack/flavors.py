"""The flavors the pmemtrack CLI knows, by name.

Nova keeps flavors in its API database; pmemtrack's CLI has this small built-in
catalogue, which covers both labels of the embedded default.
"""

from pmemtrack import exception
from pmemtrack import objects

# name -> (memory_mb, vcpus, hw:pmem or None)
CATALOGUE = {
    "m1.small": (512, 1, None),
    "pmem.medium": (512, 1, "MEDIUM"),
    "pmem.medium.x2": (1024, 2, "MEDIUM,MEDIUM"),
    "pmem.large": (1024, 2, "LARGE"),
    "pmem.mixed": (1024, 2, "MEDIUM,LARGE"),
}


class FlavorNotFound(exception.NotFound):
    msg_fmt = "Flavor %(name)s is not known; known flavors: %(known)s."


def get(name):
    try:
        memory_mb, vcpus, pmem = CATALOGUE[name]
    except KeyError:
        raise FlavorNotFound(name=name, known=", ".join(sorted(CATALOGUE)))
    return objects.Flavor(
        flavorid=name,
        name=name,
        memory_mb=memory_mb,
        vcpus=vcpus,
        extra_specs={"hw:pmem": pmem} if pmem else {},
    )
