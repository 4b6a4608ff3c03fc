"""Assigned resources: the ``instance_extra.resources`` blob, in Nova's format.

These classes serialise under Nova's object namespace with Nova's names,
fields and versions (Nova 34's ``Resource``, ``ResourceList`` and
``LibvirtVPMEMDevice``, each 1.0, under ``nova_object.*`` keys), so a blob
written by Nova's vPMEM reads as is and a blob written here reads in Nova.
"""

from pmemtrack.objects import base
from pmemtrack.objects import fields


@base.PmemtrackObjectRegistry.register
class ResourceMetadata(base.NovaCompatibleObject):
    """Parent of the driver-specific details of one assigned resource."""

    VERSION = "1.0"
    fields = {}

    def __eq__(self, other):
        if not isinstance(other, ResourceMetadata):
            return NotImplemented
        return base.fields_equal(self, other)

    def __hash__(self):
        return hash(tuple(getattr(self, name, None) for name in sorted(self.fields)))


@base.PmemtrackObjectRegistry.register
class LibvirtVPMEMDevice(ResourceMetadata):
    """One PMEM namespace as the libvirt driver needs it. Sizes are in bytes."""

    VERSION = "1.0"
    fields = {
        # The label from [pmem] namespaces; names the resource class.
        "label": fields.StringField(),
        # The namespace's name (ndctl "name", or the dax device for CXL memory).
        "name": fields.StringField(),
        "size": fields.IntegerField(),
        "devpath": fields.StringField(),
        "align": fields.IntegerField(),
    }


@base.PmemtrackObjectRegistry.register
class Resource(base.NovaCompatibleObject):
    """One resource assigned to an instance, identified on its provider."""

    VERSION = "1.0"
    fields = {
        # The compute node that owns the resource.
        "provider_uuid": fields.UUIDField(),
        "resource_class": fields.ResourceClassField(),
        # For a PMEM namespace: its name on the host.
        "identifier": fields.StringField(),
        "metadata": fields.ObjectField("ResourceMetadata", subclasses=True),
    }

    @property
    def key(self):
        """What identifies the resource: its host and name, never its label."""
        return (self.provider_uuid, self.identifier)

    def __eq__(self, other):
        if not isinstance(other, Resource):
            return NotImplemented
        return base.fields_equal(self, other)

    def __hash__(self):
        return hash(self.key)


@base.PmemtrackObjectRegistry.register
class ResourceList(base.ObjectListBase, base.NovaCompatibleObject):
    VERSION = "1.0"
    fields = {
        "objects": fields.ListOfObjectsField("Resource"),
    }

    @property
    def keys(self):
        return {resource.key for resource in self.objects}
