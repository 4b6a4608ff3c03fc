"""Invariants under concurrency, with real PROCESSES on every backend.

Zero namespaces assigned twice, zero projects over quota, no claim refused while
capacity and quota remain, no give-ups, and a claimer killed inside its
transaction leaves nothing behind.
"""

import collections
import multiprocessing
import os
import signal

import pytest

from pmemtrack import objects
from tests.functional.resource_tracker import racer
from tests.functional.resource_tracker.fixtures import Cloud

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def cloud(ctx):
    return Cloud(ctx)


def _run_racers(url, jobs_per_process):
    return racer.run([url], jobs_per_process)


def _assignments(ctx):
    held = []
    by_project = collections.Counter()
    for project in ("project-a", "project-b"):
        for instance in objects.InstanceList.get_by_project(
            ctx, project, ["resources"]
        ):
            for resource in instance.resources or []:
                held.append(resource.key)
                by_project[project] += 1
    return held, by_project


def _totals(outcomes):
    total = collections.Counter()
    for outcome in outcomes:
        assert outcome["errors"] == []
        total.update({k: outcome[k] for k in ("claimed", "refused", "gave_up")})
    return total


def test_processes_racing_on_one_host(cloud, ctx, db_engine):
    cloud.add_host("compute1", MEDIUM=(6, 6))
    instances = [cloud.new_instance("MEDIUM").uuid for _ in range(20)]
    jobs = [[("compute1", uuid) for uuid in instances[i::4]] for i in range(4)]
    outcomes = _run_racers(db_engine.url.render_as_string(hide_password=False), jobs)

    total = _totals(outcomes)
    held, _ = _assignments(ctx)
    assert len(held) == len(set(held)) == 12  # zero double assignments
    assert total == {"claimed": 12, "refused": 8, "gave_up": 0}
    assert cloud.free("compute1") == []


def test_processes_racing_across_hosts_never_pass_the_quota(cloud, ctx, db_engine):
    for host in ("compute1", "compute2"):
        cloud.add_host(host, MEDIUM=8)
    objects.QuotaLimit.set(ctx, "project-a", "CUSTOM_PMEM_NAMESPACE_MEDIUM", 7)
    quota_bound = [cloud.new_instance("MEDIUM").uuid for _ in range(12)]
    unbound = [cloud.new_instance("MEDIUM", "project-b").uuid for _ in range(4)]
    hosts = ("compute1", "compute2")
    jobs = [
        [(hosts[(i + j) % 2], uuid) for j, uuid in enumerate(quota_bound[i::4])]
        + [(hosts[i % 2], unbound[i])]
        for i in range(4)
    ]
    outcomes = _run_racers(db_engine.url.render_as_string(hide_password=False), jobs)

    total = _totals(outcomes)
    held, by_project = _assignments(ctx)
    assert len(held) == len(set(held))
    assert by_project == {"project-a": 7, "project-b": 4}
    assert total == {"claimed": 11, "refused": 5, "gave_up": 0}


def test_claimer_killed_inside_its_transaction_leaves_nothing(cloud, ctx, db_engine):
    cloud.add_host("compute1", MEDIUM=1)
    instance = cloud.new_instance("MEDIUM")
    node = objects.ComputeNode.get_by_host_and_nodename(ctx, "compute1", "compute1")
    in_transaction = SPAWN.Event()
    process = SPAWN.Process(
        target=racer.claim_and_die,
        args=(
            db_engine.url.render_as_string(hide_password=False),
            "compute1",
            instance.uuid,
            in_transaction,
        ),
    )
    process.start()
    assert in_transaction.wait(timeout=120)
    os.kill(process.pid, signal.SIGKILL)
    process.join(timeout=30)

    stored = objects.Instance.get_by_uuid(ctx, instance.uuid, ["resources"])
    assert (stored.host, stored.resources) == (None, None)
    after = objects.ComputeNode.get_by_id(ctx, node.id)
    assert after.generation == node.generation
    # The dead claimer's locks are gone: the namespace can be claimed now.
    claim = cloud.tracker["compute1"].instance_claim(ctx, stored, "compute1")
    assert [r.identifier for r in claim.resources] == ["ns0"]
