"""The namespace value the driver hands upward: found on the host and offered
by the config, with its label. Shared by pmemtrack's own driver and the Nova
adapter, so it depends on nothing above ``virt``."""

import dataclasses

from pmemtrack import resource_class


@dataclasses.dataclass(frozen=True)
class DiscoveredNamespace:
    """A namespace the driver found and the config offers, with its label."""

    name: str
    label: str
    devpath: str
    size: int
    align: int
    numa_node: int | None = None
    uuid: str | None = None
    dev: str | None = None

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
