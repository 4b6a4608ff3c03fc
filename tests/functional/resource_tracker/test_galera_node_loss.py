"""An operator's story: one Galera node dies (kill -9) in the middle of a busy
claim run, and comes back.

Sixteen writer processes, round-robin over the three nodes, claim namespaces
on two hosts for two projects; project-a's quota is below what its instances
ask. Once the first claims are in, node 3 is killed with ``tools/galera-cluster
kill``, as a crash would. The writers on nodes 1 and 2 stall for the cluster's
suspect timeout, then finish every claim. Each claim through node 3 after the
kill fails at once with one connection error, a retryable one: it writes
nothing, and the same claim succeeds (or is refused by quota) when retried
through node 3 once ``tools/galera-cluster start`` brought it back by IST.
Then every node holds the same rows and every invariant holds.

The test needs the cluster's directory (PMEMTRACK_TEST_GALERA_DIR) to kill and
restart a node; it always leaves the three nodes running. The other tests on
the cluster hold its lock shared (``databases.galera_cluster_lock``): this one
takes it exclusively, so it never kills a node under their writers.
"""

import collections
import multiprocessing
import os
import pathlib
import queue
import subprocess
import sys
import time
import traceback

from oslo_db import exception as db_exc
import pytest
import sqlalchemy as sa

from pmemtrack import context as pmt_context
from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.db import api as db_api
from pmemtrack.resource_tracker import retry
from pmemtrack.resource_tracker import tracker as rt
from tests.fixtures import databases
from tests.fixtures import fake_driver
from tests.functional.resource_tracker import test_galera
from tests.functional.resource_tracker.fixtures import Cloud

# The database fixtures of the other Galera tests: a new database, engines on
# every node, the facade on node 1.
galera = test_galera.galera
nodes = test_galera.nodes

DIR_ENV = "PMEMTRACK_TEST_GALERA_DIR"
TOOL = str(pathlib.Path(__file__).resolve().parents[3] / "tools" / "galera-cluster")

WRITERS = 16
JOBS = 6  # claims per writer
BEFORE_KILL = 3  # claims a writer may make before node 3 is killed ...
KILL_AFTER = 16  # ... which happens once this many claims are done
DEAD = 3  # the node killed; writer i uses node i % 3 + 1
HOSTS = ("compute1", "compute2")
PER_HOST = WRITERS * JOBS // len(HOSTS)  # room for every claim
PROJECTS = ("project-a", "project-b")
RC = "CUSTOM_PMEM_NAMESPACE_MEDIUM"
LIMIT_A = 30  # the writers on nodes 1-2 alone ask 33 for project-a
RETRYABLE = f"{db_exc.DBConnectionError.__module__}.DBConnectionError"

# Every wait is bounded; the whole test takes 30-40 s on 2 busy cores.
PROGRESS_TIMEOUT = 90
GATE_TIMEOUT = 120
RESULT_TIMEOUT = 240
TOOL_TIMEOUT = 300

# Writers are forked from a server that imported pmemtrack once: spawning 16
# fresh interpreters costs about 30 s of CPU on 2 cores. Nothing the test
# process opened (engines, the facade on node 1) reaches them.
FORKSERVER = multiprocessing.get_context("forkserver")


# -- the cluster ------------------------------------------------------------------


def _tool(*args):
    """Run tools/galera-cluster (it reads GALERA_CLUSTER_PORT_SHIFT from here)."""
    done = subprocess.run(
        [sys.executable, TOOL, *args],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT,
    )
    if done.returncode:
        pytest.fail(f"galera-cluster {' '.join(args)}: {done.stderr.strip()}")
    return done


@pytest.fixture(autouse=True)
def sole_user():
    """The cluster to this test alone while it kills a node: the other Galera
    tests hold the same lock shared. Autouse, so it is taken before any
    database fixture of the test takes the lock shared."""
    with databases.galera_cluster_lock(exclusive=True):
        yield


@pytest.fixture
def cluster_dir(galera):
    """The directory of the cluster the URLs name; its three nodes run after."""
    root = os.environ.get(DIR_ENV, "")
    if not root:
        databases.unavailable("galera", f"{DIR_ENV} does not name the cluster")
    running = subprocess.run(
        [sys.executable, TOOL, "urls", root], capture_output=True, text=True, timeout=60
    )
    if running.returncode:
        databases.unavailable("galera", running.stderr.strip())
    # Kill and restart only what the writers use: the URLs must name the nodes
    # under root, and the tool must compute their ports as they were started.
    for n, url in enumerate(galera, start=1):
        datadir = os.path.realpath(_datadir(url))
        if datadir != os.path.realpath(os.path.join(root, f"node{n}", "data")):
            pytest.fail(f"node {n} of {test_galera.ENV} keeps its data in {datadir}")
    if running.stdout.strip().split(",") != test_galera._cluster_urls():
        pytest.fail(
            f"tools/galera-cluster urls {root} gives {running.stdout.strip()}, not the "
            f"URLs of {test_galera.ENV}: set the cluster's GALERA_CLUSTER_PORT_SHIFT"
        )
    try:
        yield root
    finally:
        _tool("start", root)  # idempotent; brings back a node a failure left dead


def _datadir(url):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT @@datadir")).scalar()
    finally:
        engine.dispose()


def _catch_up(engine):
    """Wait until the node applied every write the cluster committed so far:
    Galera applies other nodes' writes after their COMMIT returned."""
    with engine.connect() as conn:
        conn.execute(sa.text("SET SESSION wsrep_sync_wait = 1"))
        conn.execute(sa.text("SELECT COUNT(*) FROM compute_nodes")).scalar()


def _every_row(engine):
    """Every row of every table of the test's database on one node, caught up:
    the assignments, generations and namespace states among them."""
    with engine.connect() as conn:
        conn.execute(sa.text("SET SESSION wsrep_sync_wait = 1"))
        tables = sa.inspect(conn).get_table_names()
        # Some tables start with created_at: compare sorted, not by ORDER BY 1.
        return {
            table: sorted(
                map(tuple, conn.execute(sa.text(f"SELECT * FROM {table}"))), key=repr
            )
            for table in tables
        }


def _assert_same_on_every_node(engines):
    first = _every_row(engines[0])
    assert first["instance_extra"] and first["resources"]
    for n, engine in enumerate(engines[1:], start=2):
        rows = _every_row(engine)
        differ = sorted(
            t for t in first.keys() | rows.keys() if first.get(t) != rows.get(t)
        )
        assert differ == [], f"node{n} differs from node1 in {differ}"


# -- the writers ------------------------------------------------------------------


def _claim(ctx, tracker, instance, host):
    """One claim, timed: its outcome, retries and error (type and text)."""
    stats = retry.RetryStats()
    record = {
        "instance": instance.uuid,
        "project": instance.project_id,
        "host": host,
        "start": time.monotonic(),
        "error": None,
    }
    try:
        tracker.instance_claim(ctx, instance, host, stats=stats)
        record["outcome"] = "claimed"
    except exception.QuotaExceeded:
        record["outcome"] = "refused"
    except exception.ClaimRetriesExhausted:
        record["outcome"] = "gave up"
    except Exception as err:  # judged by the test
        record["outcome"] = "error"
        record["error"] = (f"{type(err).__module__}.{type(err).__name__}", str(err))
    record["end"] = time.monotonic()
    record["retries"] = stats.retries
    return record


def _writer(index, url, jobs, barrier, progress, killed, results):
    """Claim ``jobs`` [(host, instance uuid)] through ``url``; from the
    BEFORE_KILL-th on, only once node 3 was killed. Puts (index, records)."""
    try:
        db_api.configure_url(url, max_retries=0)
        objects.register_all()
        ctx = pmt_context.get_admin_context()
        # A compute service has the instance in hand when it claims: what
        # reaches the dead node is the claim itself.
        instances = [objects.Instance.get_by_uuid(ctx, u, ["flavor"]) for _, u in jobs]
        trackers = {
            host: rt.ResourceTracker(host, fake_driver.FakeDriver()) for host in HOSTS
        }
        records = []
        barrier.wait(timeout=GATE_TIMEOUT)
        for number, (host, _) in enumerate(jobs):
            if number == BEFORE_KILL and not killed.wait(GATE_TIMEOUT):
                raise RuntimeError(f"node{DEAD} not killed after {GATE_TIMEOUT} s")
            records.append(_claim(ctx, trackers[host], instances[number], host))
            with progress.get_lock():
                progress.value += 1
        results.put((index, records))
    except BaseException:
        results.put((index, traceback.format_exc()))


def _start(urls, jobs_per_writer, sync):
    """One writer process per job list, writer i on ``urls[i % len(urls)]``."""
    FORKSERVER.set_forkserver_preload([__name__])  # a no-op once the server runs
    writers = [
        FORKSERVER.Process(target=_writer, args=(i, urls[i % len(urls)], jobs, *sync))
        for i, jobs in enumerate(jobs_per_writer)
    ]
    for writer in writers:
        writer.start()
    return writers


def _collect(writers, results):
    """Every writer's records, by writer index; a writer that failed fails the test."""
    records = {}
    deadline = time.monotonic() + RESULT_TIMEOUT
    while len(records) < len(writers):
        try:
            index, got = results.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            missing = sorted(set(range(len(writers))) - set(records))
            pytest.fail(f"writers {missing} did not report in {RESULT_TIMEOUT} s")
        if isinstance(got, str):
            pytest.fail(f"writer {index} failed:\n{got}")
        records[index] = got
    return records


def _wait_for_claims(count, results):
    deadline = time.monotonic() + PROGRESS_TIMEOUT
    while True:
        if not results.empty():  # a writer reports early only when it failed
            index, got = results.get()
            pytest.fail(f"writer {index} stopped before the kill:\n{got}")
        if count() >= KILL_AFTER:
            return
        assert time.monotonic() < deadline, (
            f"{count()} of {KILL_AFTER} claims done after {PROGRESS_TIMEOUT} s: "
            "the run never reached the kill"
        )
        time.sleep(0.01)


def _reap(writers):
    deadline = time.monotonic() + 10
    for writer in writers:
        writer.join(timeout=max(0.1, deadline - time.monotonic()))
    for writer in writers:
        if writer.is_alive():  # only after a failure: leave nothing behind
            writer.kill()
            writer.join(timeout=10)


def _run(urls, jobs_per_writer, kill=None):
    """Run the writers, calling ``kill()`` once KILL_AFTER claims are done.
    Returns (records by writer, monotonic times before and after the kill)."""
    # Held here until the writers are done: Process.start() drops its
    # arguments, and a semaphore the parent frees is gone for the child.
    barrier = FORKSERVER.Barrier(len(jobs_per_writer))
    progress, killed = FORKSERVER.Value("i", 0), FORKSERVER.Event()
    results = FORKSERVER.Queue()
    writers = _start(urls, jobs_per_writer, (barrier, progress, killed, results))
    kill_started = kill_done = None
    try:
        if kill is not None:
            _wait_for_claims(lambda: progress.value, results)
            kill_started = time.monotonic()
            kill()
            kill_done = time.monotonic()
        killed.set()
        return _collect(writers, results), kill_started, kill_done
    finally:
        killed.set()
        _reap(writers)


# -- the checks -------------------------------------------------------------------


def _holdings(ctx):
    """{instance uuid: instance} of every live instance, with its resources."""
    return {
        i.uuid: i
        for project in PROJECTS
        for i in objects.InstanceList.get_by_project(ctx, project, ["resources"])
    }


def _check_invariants(cloud, ctx, refused_a):
    """No namespace held twice, none lost, no claim half-written, no project
    over quota (and refused only at the limit); the instances, by uuid."""
    held = _holdings(ctx)
    keys = [r.key for i in held.values() for r in i.resources or []]
    assert len(keys) == len(set(keys)), "a namespace is assigned twice"
    for instance in held.values():  # all it asked for (one), placed; or nothing
        assert len(instance.resources or []) <= 1, instance.uuid
        assert bool(instance.resources) == (instance.host is not None), instance.uuid
    usage = collections.Counter(i.project_id for i in held.values() if i.resources)
    assert usage["project-a"] <= LIMIT_A, f"project-a over quota: {usage}"
    if refused_a:
        assert usage["project-a"] == LIMIT_A, f"refused below the limit: {usage}"
    for host in HOSTS:
        node = cloud.tracker[host]._node(ctx, host)
        mine = [name for provider, name in keys if provider == node.uuid]
        everything = [ns.name for ns in cloud.driver[host].get_pmem_namespaces(host)]
        free = cloud.free(host)
        assert not set(free) & set(mine), f"{host}: a held namespace is free"
        assert sorted(free + mine) == sorted(everything), f"{host}: namespaces lost"
    return held


def _longest_gap(survivors, kill_started):
    """The longest wait, across the kill, between two commits on nodes 1-2."""
    ends = sorted(r["end"] for r in survivors if r["outcome"] == "claimed")
    gaps = [b - a for a, b in zip(ends, ends[1:], strict=False) if b > kill_started]
    return max(gaps, default=0.0)


def _retries(label, records):
    retries = [r["retries"] for r in records if r["outcome"] in ("claimed", "refused")]
    mean, most = sum(retries) / max(1, len(retries)), max(retries, default=0)
    return f"{label} {len(retries)} claims, {mean:.2f} retries/claim (max {most})"


# -- the story --------------------------------------------------------------------


def test_a_node_killed_mid_run_stalls_claims_then_fails_only_its_own(
    nodes, galera, cluster_dir
):
    ctx = pmt_context.get_admin_context()
    cloud = Cloud(ctx)
    for host in HOSTS:
        cloud.add_host(host, MEDIUM=PER_HOST)
    objects.QuotaLimit.set(ctx, "project-a", RC, LIMIT_A)
    jobs = [
        [(HOSTS[(w + j) % 2], cloud.new_instance("MEDIUM", PROJECTS[j % 2]).uuid)
         for j in range(JOBS)]
        for w in range(WRITERS)
    ]  # fmt: skip
    urls = [test_galera._text(url) for url in galera]
    for engine in nodes:
        _catch_up(engine)  # every writer finds its instances on its node

    # Sixteen writers claim; node 3 is killed (kill -9) with claims in flight.
    by_writer, kill_started, kill_done = _run(
        urls, jobs, kill=lambda: _tool("kill", cluster_dir, str(DEAD))
    )
    survivors = [r for w, rs in by_writer.items() if w % 3 != DEAD - 1 for r in rs]
    on_dead = [r for w, rs in by_writer.items() if w % 3 == DEAD - 1 for r in rs]
    before = [r for r in on_dead if r["end"] < kill_started]
    in_flight = [
        r for r in on_dead if r["end"] >= kill_started and r["start"] < kill_done
    ]
    after = [r for r in on_dead if r["start"] >= kill_done]

    # The writers on nodes 1 and 2 finish every claim, the kill only stalls
    # them: claimed, or refused by project-a's quota; none gave up or failed.
    unfinished = [r for r in survivors if r["outcome"] not in ("claimed", "refused")]
    assert unfinished == []
    assert {r["project"] for r in survivors if r["outcome"] == "refused"} <= {
        "project-a"
    }
    resumed = [
        r["end"]
        for r in survivors
        if r["outcome"] == "claimed" and r["end"] > kill_done
    ]
    assert resumed, "no claim through nodes 1-2 committed after the kill"

    # Through node 3: claims before the kill went as anywhere; each one after
    # it fails at once with one retryable connection error, and the claim
    # does not retry it itself (a dead node is not a lost race).
    assert {r["outcome"] for r in before} <= {"claimed", "refused"}, before
    assert after, "no claim went through node 3 after the kill"
    assert {r["error"][0] for r in after if r["error"]} == {RETRYABLE}, after
    assert [r for r in after if r["outcome"] != "error"] == []
    assert [r for r in after if r["end"] - r["start"] > 5 or r["retries"]] == []
    # One caught by the kill may have committed (its client lost the answer).
    assert {r["error"][0] for r in in_flight if r["error"]} <= {RETRYABLE}, in_flight

    # Nothing half-written: checked on node 1 while node 3 is down.
    _catch_up(nodes[0])
    refused_a = any(r["outcome"] == "refused" for r in survivors + on_dead)
    held = _check_invariants(cloud, ctx, refused_a)
    assert [r for r in after if held[r["instance"]].resources] == []
    claimed = {r["instance"] for r in survivors + on_dead if r["outcome"] == "claimed"}
    assert claimed <= {u for u, i in held.items() if i.resources}
    failed = [r for r in in_flight + after if r["outcome"] == "error"]
    landed = [r for r in failed if held[r["instance"]].resources]

    # Node 3 comes back by IST; the three nodes hold the same rows.
    started = time.monotonic()
    rejoined = _tool("start", cluster_dir)
    rejoin = time.monotonic() - started
    assert f"node{DEAD} recovered at" in rejoined.stderr, rejoined.stderr
    assert "rejoined by IST" in rejoined.stderr, rejoined.stderr
    for engine in nodes:
        engine.dispose()  # node 3's pooled connections died with it
    _assert_same_on_every_node(nodes)

    # The operator retries the failed claims through node 3: each succeeds,
    # or is refused by project-a's quota; the nodes still agree.
    again = [[(r["host"], r["instance"]) for r in failed if r not in landed]]
    retried = _run([urls[DEAD - 1]], again)[0][0]
    assert {r["outcome"] for r in retried} <= {"claimed", "refused"}, retried
    _assert_same_on_every_node(nodes)
    _check_invariants(cloud, ctx, refused_a)

    # The figures, for whoever tunes the suspect timeout or the retries.
    early = [r for r in survivors if r["end"] < kill_started]
    late = [r for r in survivors if r["end"] >= kill_started]
    lost = collections.Counter(
        r["error"][1].splitlines()[0] for r in in_flight if r["error"]
    )
    print(
        f"\nnode loss: kill {kill_done - kill_started:.2f} s; first commit on nodes "
        f"1-2 {min(resumed) - kill_started:.2f} s after it, longest gap between their "
        f"commits {_longest_gap(survivors, kill_started):.2f} s; rejoin {rejoin:.2f} s;"
        f" {_retries('nodes 1-2 before the kill', early)}; {_retries('after', late)};"
        f" {_retries('retried through node 3', retried)}; through node{DEAD}:"
        f" {len(in_flight)} claims in flight at the kill ({len(landed)} committed,"
        f" errors {dict(lost)}), {len(after)} failed after it with"
        f" {after[0]['error'][0]}: {after[0]['error'][1]!r}"
    )
