"""A seeded random walk of boots, deletes, moves, orphans and quota changes;
after every step the invariants hold."""

import collections
import contextlib
import random

import pytest

from pmemtrack import exception
from pmemtrack import objects
from tests.functional.resource_tracker.fixtures import Cloud
from tests.functional.resource_tracker.fixtures import flavor

HOSTS = ("compute1", "compute2")
LABELS = ("SMALL", "LARGE")
LIMITS = {"project-a": 5, "project-b": 100}
RC = {label: f"CUSTOM_PMEM_NAMESPACE_{label}" for label in LABELS}
STEPS = 80


def _live(ctx):
    instances = []
    for project in LIMITS:
        instances.extend(
            objects.InstanceList.get_by_project(
                ctx, project, ["resources", "migration_context"]
            )
        )
    return instances


def _held_keys(instance):
    keys = {r.key for r in instance.resources or []}
    move = instance.migration_context
    if move is not None:
        for side in (move.old_resources, move.new_resources):
            keys |= {r.key for r in side or []}
    return keys


def _check_invariants(cloud, ctx):
    owners = collections.Counter()
    usage = collections.Counter()
    for instance in _live(ctx):
        keys = _held_keys(instance)
        owners.update(keys)
        per_class = collections.Counter()
        for side in _sides(instance):
            counts = collections.Counter(r.resource_class for r in side)
            for rc, n in counts.items():
                per_class[rc] = max(per_class[rc], n)
        for rc, n in per_class.items():
            usage[(instance.project_id, rc)] += n
    assert [k for k, n in owners.items() if n > 1] == []  # never two owners
    for (project, rc), n in usage.items():
        assert n <= LIMITS[project], (project, rc, n)
    for host in HOSTS:
        node = cloud.tracker[host]._node(ctx, host)
        free = {(node.uuid, n) for n in cloud.free(host)}
        assert not free & set(owners)  # held is never free
        orphans = cloud.driver[host].get_pmem_namespaces_in_use(host)
        assert not {n for _, n in free} & set(orphans)


def _sides(instance):
    move = instance.migration_context
    if move is None:
        return [list(instance.resources or [])]
    return [
        list(instance.resources or []),
        list(move.old_resources or []),
        list(move.new_resources or []),
    ]


def _step(cloud, ctx, rng, moves):
    live = [i for i in _live(ctx) if i.host]
    action = rng.choice(["boot", "boot", "delete", "move", "finish", "orphan"])
    if action == "boot" or not live:
        pmem = ",".join(rng.choice(LABELS) for _ in range(rng.randint(1, 2)))
        project = rng.choice(list(LIMITS))
        host = rng.choice(HOSTS)
        try:
            cloud.boot(host, pmem, project_id=project)
        except (exception.ComputeResourcesUnavailable, exception.QuotaExceeded) as err:
            return type(err).__name__
        return "boot"
    instance = rng.choice(live)
    if action == "delete" and instance.uuid not in moves:
        cloud.delete(instance)
        return "delete"
    elif action == "move" and instance.uuid not in moves:
        dest = rng.choice(HOSTS)
        new_pmem = ",".join(rng.choice(LABELS) for _ in range(rng.randint(1, 2)))
        migration = cloud.migration(instance, dest, new_pmem)
        try:
            cloud.tracker[dest].resize_claim(
                ctx, instance, flavor(new_pmem), dest, migration
            )
        except (exception.ComputeResourcesUnavailable, exception.QuotaExceeded):
            migration.status = "error"
            migration.save()
            return "move refused"
        moves[instance.uuid] = migration
        cloud.finish(instance, migration)
        return "move"
    elif action == "finish" and moves:
        # In the order the moves began: sorted by uuid (random), a seed
        # would not make the same walk twice.
        uuid = rng.choice(list(moves))
        migration = moves.pop(uuid)
        instance = objects.Instance.get_by_uuid(ctx, uuid, ["resources"])
        ending = rng.choice(["confirm", "revert"])
        getattr(cloud, ending)(instance, migration)
        migration.status = ending + "ed" if ending == "confirm" else "reverted"
        migration.save()
        return ending
    elif action == "orphan" and instance.uuid not in moves:
        # The DB forgets the instance; its guest goes on running for a while.
        host = instance.host
        instance.destroy()
        if rng.random() < 0.5:
            cloud.driver[host].stop_guest(host, instance.uuid)
        return "orphan"
    return "nothing"


def new_cloud(ctx):
    """Two hosts with SMALL and LARGE namespaces; project-a has a quota."""
    cloud = Cloud(ctx)
    for host in HOSTS:
        cloud.add_host(host, SMALL=(3, 3), LARGE=2)
    objects.QuotaLimit.set(ctx, "project-a", RC["SMALL"], LIMITS["project-a"])
    objects.QuotaLimit.set(ctx, "project-a", RC["LARGE"], LIMITS["project-a"])
    return cloud


def walk(cloud, ctx, seed, through=None):
    """STEPS random steps, the invariants checked after each; what each step
    did, in order. A seed always makes the same walk on one database.

    ``through(step)``, if given, is a context manager the step and its check
    run in (on a cluster: the node the step goes through).
    """
    rng = random.Random(seed)
    moves = {}
    done = []
    for step in range(STEPS):
        with through(step) if through else contextlib.nullcontext():
            done.append(_step(cloud, ctx, rng, moves))
            _check_invariants(cloud, ctx)
    return done


def assert_every_kind_of_step(done):
    """The walk went through every kind of step, refusals included."""
    kinds = collections.Counter(done)
    for kind in ("boot", "delete", "move", "confirm", "revert", "orphan"):
        assert kinds[kind] > 0, kinds
    assert kinds["ComputeResourcesUnavailable"] + kinds["QuotaExceeded"] > 0, kinds


@pytest.mark.parametrize("seed", [1, 2])
def test_random_operations_keep_the_invariants(ctx, seed):
    cloud = new_cloud(ctx)
    done = walk(cloud, ctx, seed)
    assert_every_kind_of_step(done)
