"""Releases: namespaces leave an instance's blobs and wait, dirty, for a wipe.

A release never hands a namespace straight back to the pool. One transaction
rewrites the instance's blobs (or deletes the instance) and marks every
namespace the blobs named before and no longer name as ``dirty``, on whichever
node it lives: the source and the destination of a move alike. Only a wipe
that runs after the namespace's last writer is gone (``wipe.py``) turns
``dirty`` into ``available``. A crash between the two leaves the namespace
dirty, out of the pool, until the periodic pass wipes it.
"""

import collections

import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack.db import models
from pmemtrack.objects import fields
from pmemtrack.objects import host_resource as host_resource_obj
from pmemtrack.resource_tracker import generation
from pmemtrack.resource_tracker import retry
from pmemtrack.resource_tracker import usage

_COMPUTE_NODES = models.ComputeNode.__table__
_DIRTY = fields.HostResourceState.DIRTY


def held_keys(holding):
    """{(provider_uuid, name)} of everything a Holding names, on every side."""
    if holding is None:
        return set()
    return {
        (provider, name)
        for held in (holding.current, holding.old, holding.new)
        for provider, name, _, _ in held
    }


def lock_holding(context, instance_uuid):
    """The instance's Holding, read with its rows locked; InstanceNotFound if
    it is gone. A locking read is the latest committed one (never a stale
    snapshot) and keeps a second writer of these blobs waiting."""
    row = context.session.execute(
        usage.OF_INSTANCE.with_for_update(), {"uuid": instance_uuid}
    ).first()
    if row is None:
        raise exception.InstanceNotFound(instance_uuid=instance_uuid)
    return usage.holding_from_row(row)


def mark_dirty(context, keys):
    """Mark the namespaces ``keys`` ((provider_uuid, name)) dirty on their nodes,
    each node locked and its generation bumped; {node id: [names]}."""
    by_provider = collections.defaultdict(list)
    for provider, name in keys:
        by_provider[provider].append(name)
    if not by_provider:
        return {}
    nodes = context.session.execute(
        sa.select(_COMPUTE_NODES.c.uuid, _COMPUTE_NODES.c.id)
        .where(_COMPUTE_NODES.c.uuid.in_(sorted(by_provider)))
        .order_by(_COMPUTE_NODES.c.id)
    ).all()
    marked = {}
    # Nodes in id order: two releases that span the same nodes lock them in
    # the same order and cannot deadlock each other.
    for provider, node_id in nodes:
        node_generation = generation.lock_node(context, node_id)
        names = sorted(by_provider[provider])
        host_resource_obj.HostResourceList.set_state(context, node_id, names, _DIRTY)
        generation.bump_node(context, node_id, node_generation)
        marked[node_id] = names
    return marked


def release(context, conf, instance_uuid, change, describe, stats=None):
    """Run ``change(ctx)`` (it rewrites or deletes the instance) and
    mark dirty what the instance no longer names, in one transaction retried
    afresh when it loses a race. Returns {node id: [names released]}."""

    def work(ctx):
        before = lock_holding(ctx, instance_uuid)
        change(ctx)
        after = usage.holding_of_instance(ctx, instance_uuid)
        return mark_dirty(ctx, held_keys(before) - held_keys(after))

    return retry.in_fresh_transactions(context, work, conf, describe, stats)
