"""Claimers that run in their own processes, for race tests and benchmarks.

Each process connects to the database itself, waits at a barrier so all start
together, claims for the instances it was given and reports what happened:
how many claims were made, refused and given up, and the retries they took
(in all, per claim in order, and the most one claim needed).
"""

import multiprocessing
import os
import signal
import time

from pmemtrack import context as pmt_context
from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.db import api as db_api
from pmemtrack.resource_tracker import generation
from pmemtrack.resource_tracker import retry
from pmemtrack.resource_tracker import tracker as rt
from tests.fixtures import fake_driver

REFUSALS = (exception.ComputeResourcesUnavailable, exception.QuotaExceeded)
SPAWN = multiprocessing.get_context("spawn")
# Claimers are forked from a server that imported this module once: spawning
# 16 fresh interpreters costs about 30 s of CPU on 2 cores. Nothing the test
# process opened (engines, the facade) reaches them.
FORKSERVER = multiprocessing.get_context("forkserver")


def run(urls, jobs_per_process):
    """One process per job list, process i on ``urls[i % len(urls)]`` (the
    nodes of a Galera cluster, round-robin), all started at once; their
    outcomes."""
    FORKSERVER.set_forkserver_preload([__name__])  # a no-op once the server runs
    barrier = FORKSERVER.Barrier(len(jobs_per_process))
    results = FORKSERVER.Queue()
    processes = [
        FORKSERVER.Process(target=claim_all,
                           args=(urls[i % len(urls)], jobs, barrier, results))
        for i, jobs in enumerate(jobs_per_process)
    ]  # fmt: skip
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return outcomes


def claim_all(url, jobs, barrier, results):
    """jobs: [(host, instance_uuid)]; puts one dict of outcomes on ``results``."""
    db_api.configure_url(url, max_retries=0)
    objects.register_all()
    ctx = pmt_context.get_admin_context()
    trackers = {}
    outcome = {
        "claimed": 0,
        "refused": 0,
        "gave_up": 0,
        "retries": 0,
        "retries_per_claim": [],
        "max_retries": 0,
        "errors": [],
    }
    barrier.wait()
    started = time.monotonic()
    for host, instance_uuid in jobs:
        tracker = trackers.setdefault(
            host, rt.ResourceTracker(host, fake_driver.FakeDriver())
        )
        instance = objects.Instance.get_by_uuid(ctx, instance_uuid, ["flavor"])
        stats = retry.RetryStats()
        try:
            tracker.instance_claim(ctx, instance, host, stats=stats)
            outcome["claimed"] += 1
        except REFUSALS:
            outcome["refused"] += 1
        except exception.ClaimRetriesExhausted:
            outcome["gave_up"] += 1
        except Exception as err:  # reported to the test, which fails on it
            outcome["errors"].append(f"{type(err).__name__}: {err}")
        retries = stats.retries
        outcome["retries"] += retries
        outcome["retries_per_claim"].append(retries)
        outcome["max_retries"] = max(outcome["max_retries"], retries)
    outcome["seconds"] = time.monotonic() - started
    results.put(outcome)


def claim_and_die(url, host, instance_uuid, in_transaction):
    """Claim, and stop dead inside the claim transaction before it commits."""
    db_api.configure_url(url, max_retries=0)
    objects.register_all()
    ctx = pmt_context.get_admin_context()

    def stall(context, node_id, node_generation):
        # The assignment is written; the node's generation is not bumped yet.
        in_transaction.set()
        os.kill(os.getpid(), signal.SIGSTOP)

    generation.bump_node = stall
    instance = objects.Instance.get_by_uuid(ctx, instance_uuid, ["flavor"])
    rt.ResourceTracker(host, fake_driver.FakeDriver()).instance_claim(
        ctx, instance, host
    )
