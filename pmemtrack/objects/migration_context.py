"""MigrationContext: what a move holds on each side while it is in progress.

Stored as JSON in ``instance_extra.migration_context``. It serialises as Nova's
MigrationContext 1.2 (Nova's other fields, NUMA and PCI, are ignored on read) so a
move started under Nova keeps its namespaces.
"""

from pmemtrack.objects import base
from pmemtrack.objects import fields


@base.PmemtrackObjectRegistry.register
class MigrationContext(base.NovaCompatibleObject):
    VERSION = "1.2"
    fields = {
        "instance_uuid": fields.UUIDField(),
        "migration_id": fields.IntegerField(),
        # Held on the source until the move is confirmed.
        "old_resources": fields.ObjectField("ResourceList", nullable=True),
        # Held on the destination from the move claim until revert.
        "new_resources": fields.ObjectField("ResourceList", nullable=True),
    }
