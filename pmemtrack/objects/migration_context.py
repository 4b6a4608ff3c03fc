"""MigrationContext: what a move holds on each side while it is in progress.

Stored as JSON in ``instance_extra.migration_context``. It serialises as Nova's
MigrationContext 1.2: Nova's NUMA and PCI fields are written as explicit nulls
and, in a blob Nova wrote, kept exactly as they are, so a move started under
Nova keeps its namespaces and Nova reads what pmemtrack writes.
"""

from pmemtrack.objects import base
from pmemtrack.objects import fields

# Nova's fields of MigrationContext 1.2 that pmemtrack does not own. Nova
# writes them as explicit nulls and reads them unguarded (a missing key raises
# NotImplementedError in nova-compute), so pmemtrack does too.
NOVA_FIELDS = (
    "new_numa_topology",
    "old_numa_topology",
    "new_pci_devices",
    "old_pci_devices",
    "new_pci_requests",
    "old_pci_requests",
)


@base.PmemtrackObjectRegistry.register
class MigrationContext(base.NovaCompatibleObject):
    VERSION = "1.2"
    fields = {
        "instance_uuid": fields.UUIDField(),
        "migration_id": fields.IntegerField(),
        **{
            name: fields.NovaPrimitiveField(nullable=True, default=None)
            for name in NOVA_FIELDS
        },
        # Held on the source until the move is confirmed.
        "old_resources": fields.ObjectField("ResourceList", nullable=True),
        # Held on the destination from the move claim until revert.
        "new_resources": fields.ObjectField("ResourceList", nullable=True),
    }


def new(instance_uuid, migration_id, old_resources, new_resources):
    """A MigrationContext as Nova writes one: Nova's own fields null."""
    move = MigrationContext(
        instance_uuid=instance_uuid,
        migration_id=migration_id,
        old_resources=old_resources,
        new_resources=new_resources,
    )
    move.obj_set_defaults(*NOVA_FIELDS)
    return move
