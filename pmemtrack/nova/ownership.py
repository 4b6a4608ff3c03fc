"""Which namespaces of this host an instance or a move owns, as Nova's
records say (read through the conductor: nova-compute has no database)."""

from nova import objects


def names_on(resources, node_uuid):
    """Identifiers of the resources on the provider ``node_uuid``: a blob
    naming another host's namespace says nothing about this host's."""
    return {
        r.identifier
        for r in resources or []
        if r.obj_attr_is_set("provider_uuid") and r.provider_uuid == node_uuid
    }


def _of(instance, node_uuid):
    names = names_on(instance.resources, node_uuid)
    context = instance.migration_context
    if context is not None:
        for field in ("old_resources", "new_resources"):
            if context.obj_attr_is_set(field):
                names |= names_on(getattr(context, field), node_uuid)
    return names


def names_owned_here(context, host, nodename, node_uuid):
    """Names of this node's namespaces that an instance on ``host`` holds or
    that a move into or out of ``host`` has claimed."""
    attrs = ["resources", "migration_context"]
    owned = set()
    for instance in objects.InstanceList.get_by_host(
        context, host, expected_attrs=attrs
    ):
        owned |= _of(instance, node_uuid)
    moves = objects.MigrationList.get_in_progress_by_host_and_node(
        context, host, nodename
    )
    for move in moves:
        instance = objects.Instance.get_by_uuid(
            context, move.instance_uuid, expected_attrs=attrs
        )
        owned |= _of(instance, node_uuid)
    return owned
