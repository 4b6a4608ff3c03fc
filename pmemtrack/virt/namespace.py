"""The one namespace value of the ``virt`` layer: a dax device as discovery
parses it from the tools, and, once the config offers it, with its label (what
the driver hands upward). Shared by pmemtrack's own driver and the Nova
adapter, so it depends on nothing above ``virt``."""

import dataclasses

from pmemtrack import resource_class

DEVDAX = "devdax"


@dataclasses.dataclass(frozen=True)
class DiscoveredNamespace:
    """A dax device the driver found; ``label`` is empty until the config
    offers it (``namespaces.select``)."""

    name: str
    label: str
    devpath: str
    size: int
    align: int
    numa_node: int | None = None
    uuid: str | None = None
    dev: str | None = None
    # What the tools said of the device; only devdax can be offered.
    mode: str = DEVDAX
    chardev: str | None = None

    @property
    def resource_class(self):
        return resource_class.for_label(self.label)

    def metadata(self):
        return {
            "label": self.label,
            "size": self.size,
            "align": self.align,
            "numa_node": self.numa_node,
            "uuid": self.uuid,
            "dev": self.dev,
        }
