"""Which old namespace's data goes into which new one on a move, shared by the
standalone service and the Nova adapter."""

from pmemtrack import exception


def in_guest_order(old, new, migration_uuid):
    """[(old device, new device)] in the order the guest sees its nvdimm
    devices (the flavors' hw:pmem order), so each guest device gets its own
    data back; extra new namespaces start zeroed. Too few or too small new
    namespaces raise CopyNotPossible, before any byte is copied."""
    if len(new) < len(old):
        raise exception.CopyNotPossible(
            migration=migration_uuid,
            reason=f"the new flavor has {len(new)} PMEM namespaces for the "
            f"{len(old)} to copy",
        )
    pairs = list(zip(old, new[: len(old)], strict=True))
    for position, (o, n) in enumerate(pairs):
        if n.size < o.size:
            raise exception.CopyNotPossible(
                migration=migration_uuid,
                reason=f"guest device {position}: new namespace {n.name} "
                f"({n.label}, {n.size} bytes) is smaller than old namespace "
                f"{o.name} ({o.label}, {o.size} bytes)",
            )
    return pairs
