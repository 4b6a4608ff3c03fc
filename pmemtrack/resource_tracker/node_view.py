"""A node as a claim sees it: its namespaces, who holds them and, when quota
applies, what the claiming project uses, all read in one statement.

A claim reads these inside its transaction, right after the statement that
locks the node and the project's anchor; one round trip instead of three is
most of what separates a claim from the bare generation compare-and-update
on a host with few instances.
"""

import functools
import typing

import sqlalchemy as sa

from pmemtrack.db import api as db_api
from pmemtrack.resource_tracker import inventory
from pmemtrack.resource_tracker import usage

_NAMESPACE, _ON_NODE, _OF_PROJECT = "n", "h", "p"
# Holder rows are (uuid, project_id, resources, migration_context): one
# column fewer than a namespace row, padded with a NULL.
_PAD = inventory.NAMESPACE_COLUMNS - 4


class NodeView(typing.NamedTuple):
    namespaces: list  # HostNamespace of every namespace row of the node
    held: dict  # name -> (instance_uuid, role) of every namespace held
    # (what the project's other live instances use, what the instance uses),
    # per resource class; None unless asked for.
    project_use: tuple | None


@functools.cache
def _select(with_project):
    # SELECT 'n', identifier, resource_class, locator, metadata, state
    #   FROM resources WHERE compute_node_id = :node_id
    #    AND resource_type = 'PMEM_NAMESPACE'
    # UNION ALL
    # SELECT 'h', <holding columns>, NULL ... (usage._on_node_select: the
    #        instances placed on :host/:node that hold something, and those
    #        with a move through it; two branches)
    # [UNION ALL
    #  SELECT 'p', <holding columns>, NULL ... (usage.of_project_select)]
    def tag(kind):
        return (sa.literal_column(f"'{kind}'").label("kind"),)

    branches = [
        inventory.namespaces_select(tag(_NAMESPACE)),
        *usage.on_node_selects(tag(_ON_NODE), _PAD),
    ]
    if with_project:
        branches.append(usage.of_project_select(tag(_OF_PROJECT), _PAD))
    return sa.union_all(*branches)


@db_api.context_manager.reader
def read(context, node, project=None, verify_devpaths=False):
    """The NodeView of ``node`` (a ComputeNode), inside the caller's
    transaction (a claim's) or in a reader transaction of its own (the
    listing, the audit). ``project``: (project_id, instance_uuid) whose use to count.
    ``verify_devpaths``: a holding that names a namespace with another
    device's path raises CorruptedBlob (see usage.held_by_rows)."""
    params = {
        "node_id": node.id,
        "host": node.host,
        "node": node.hypervisor_hostname,
        "project_id": project[0] if project else None,
    }
    rows = {_NAMESPACE: [], _ON_NODE: [], _OF_PROJECT: []}
    for row in context.session.execute(_select(project is not None), params):
        rows[row[0]].append(row[1:])
    namespaces = [inventory.namespace_of_row(row) for row in rows[_NAMESPACE]]
    devpaths = {ns.name: ns.devpath for ns in namespaces} if verify_devpaths else None
    held = usage.held_by_rows((row[:4] for row in rows[_ON_NODE]), node.uuid, devpaths)
    project_use = None
    if project is not None:
        holders = (row[:4] for row in rows[_OF_PROJECT])
        project_use = usage.counts_by_rows(holders, project[1])
    return NodeView(namespaces, held, project_use)
