#!/usr/bin/env python3
"""Claim throughput and latency of the resource tracker on real databases.

For each reachable backend (SQLite, MariaDB, PostgreSQL, and a MariaDB
Galera cluster named by PMEMTRACK_TEST_GALERA_URLS) it measures:

- claims per second and retries per claim with 1, 4 and 16 concurrent
  processes, all on one host and spread over 16 hosts, next to the backend's
  ceiling measured in the same run (one process doing the bare generation
  compare-and-update in a loop); on Galera once with the processes spread
  round-robin over the three nodes and once all on one node;
- claim latency with 10, 100 and 1,000 instances already on the host, most of
  them without PMEM as on a mixed host: half of them hold a namespace, up to
  32; each timed claim is undone (untimed), so every sample sees that host.

Every run is checked: namespaces assigned twice, projects over quota, claims
given up and claims refused although capacity remained must all be zero.

    python benchmarks/claims.py             # table
    python benchmarks/claims.py --json      # rows for machines
    python benchmarks/claims.py --quick     # SQLite only, small, < 1 minute
    python benchmarks/claims.py --backends galera --processes 16
"""

import argparse
import collections
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from oslo_db.sqlalchemy import engines  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import url as sa_url  # noqa: E402

from pmemtrack import context as pmt_context  # noqa: E402
from pmemtrack import exception  # noqa: E402
from pmemtrack import objects  # noqa: E402
from pmemtrack.db import api as db_api  # noqa: E402
from pmemtrack.db import migration  # noqa: E402
from pmemtrack.db import models  # noqa: E402
from pmemtrack.objects import base as obj_base  # noqa: E402
from pmemtrack.resource_tracker import retry  # noqa: E402
from pmemtrack.resource_tracker import tracker as rt  # noqa: E402
from tests.fixtures import databases  # noqa: E402
from tests.fixtures import fake_driver  # noqa: E402

LABEL = "MEDIUM"
RC = "CUSTOM_PMEM_NAMESPACE_MEDIUM"
PROJECTS = ("project-0", "project-1", "project-2", "project-3")
GALERA_ENV = "PMEMTRACK_TEST_GALERA_URLS"


# -- worker processes ---------------------------------------------------------

_worker = {}


def _worker_init(urls, started):
    """Worker i connects to urls[i % len(urls)]: round-robin over the nodes
    of a Galera cluster."""
    with started.get_lock():
        url = urls[started.value % len(urls)]
        started.value += 1
    db_api.configure_url(url, max_retries=0)
    objects.register_all()
    _worker["ctx"] = pmt_context.get_admin_context()
    _worker["trackers"] = {}
    with db_api.context_manager.reader.using(_worker["ctx"]) as session:
        session.execute(sa.text("SELECT 1"))


def _worker_pid(_):
    time.sleep(0.05)
    return os.getpid()


def _wait_for_workers(pool, count):
    """Block until every worker has started, so none competes for the CPU
    while the ceiling or a run is measured."""
    seen = set()
    while len(seen) < count:
        seen.update(pool.map(_worker_pid, range(count * 2), chunksize=1))


def _worker_claims(jobs):
    # Every run starts from an emptied database: trackers of the last run
    # would remember compute nodes that are gone.
    _worker["trackers"].clear()
    ctx = _worker["ctx"]
    instances = [
        (host, objects.Instance.get_by_uuid(ctx, instance_uuid, ["flavor"]))
        for host, instance_uuid in jobs
    ]
    outcome = collections.Counter()
    started = time.time()
    for host, instance in instances:
        tracker = _worker["trackers"].setdefault(
            host, rt.ResourceTracker(host, fake_driver.FakeDriver())
        )
        stats = retry.RetryStats()
        try:
            tracker.instance_claim(ctx, instance, host, stats=stats)
            outcome["claimed"] += 1
        except (exception.ComputeResourcesUnavailable, exception.QuotaExceeded):
            outcome["refused"] += 1
        except exception.ClaimRetriesExhausted:
            outcome["gave_up"] += 1
        outcome["retries"] += stats.retries
        outcome["max_retries"] = max(outcome["max_retries"], stats.retries)
    return dict(outcome, started=started, ended=time.time())


# -- set-up and checks in the parent ------------------------------------------


def _make_engine(url):
    engine = engines.create_engine(url, max_retries=0, mysql_sql_mode="TRADITIONAL")
    db_api.setup_engine(engine)
    return engine


def _empty(engine):
    with engine.begin() as conn:
        for table in reversed(models.BASE.metadata.sorted_tables):
            conn.execute(table.delete())


def _hosts(ctx, count, namespaces_per_host):
    trackers = {}
    for i in range(count):
        host = f"compute{i}"
        driver = fake_driver.FakeDriver()
        driver.add_namespaces(host, LABEL, namespaces_per_host)
        trackers[host] = rt.ResourceTracker(host, driver)
        trackers[host].update_available_resource(ctx, host)
    return trackers


def _flavor(pmem=True):
    return objects.Flavor(
        flavorid="bench" if pmem else "bench-nopmem",
        name="bench" if pmem else "bench-nopmem",
        memory_mb=1,
        vcpus=1,
        extra_specs={"hw:pmem": LABEL} if pmem else {},
    )


def _instances(ctx, count, pmem=True):
    created = []
    for i in range(count):
        instance = objects.Instance(
            ctx,
            uuid=str(uuid.uuid4()),
            project_id=PROJECTS[i % len(PROJECTS)],
            user_id="bench",
            flavor=_flavor(pmem),
            resources=None,
            migration_context=None,
        )
        instance.create()
        created.append(instance.uuid)
    return created


def _check(engine):
    """(namespaces assigned twice, projects over their quota)."""
    query = sa.text(
        "SELECT i.project_id, e.resources FROM instances i "
        "JOIN instance_extra e ON e.instance_uuid = i.uuid "
        "WHERE i.deleted = 0 AND e.resources IS NOT NULL"
    )
    keys, per_project = collections.Counter(), collections.Counter()
    with engine.connect() as conn:
        limits = dict(
            conn.execute(
                sa.text("SELECT project_id, hard_limit FROM quota_limits")
            ).all()
        )
        for project_id, blob in conn.execute(query):
            for resource in obj_base.decode(objects.ResourceList, blob):
                keys[resource.key] += 1
                per_project[project_id] += 1
    doubles = sum(n - 1 for n in keys.values() if n > 1)
    over = sum(1 for p, n in per_project.items() if n > limits.get(p, n))
    return doubles, over


def _ceiling(engine, node_id, seconds):
    """Bare generation compare-and-update, one process, claims per second."""
    table = models.ComputeNode.__table__
    done, deadline = 0, time.monotonic() + seconds
    started = time.monotonic()
    while time.monotonic() < deadline:
        with engine.begin() as conn:
            generation = conn.execute(
                sa.select(table.c.generation)
                .where(table.c.id == node_id)
                .with_for_update()
            ).scalar_one()
            conn.execute(
                sa.update(table)
                .where(table.c.id == node_id, table.c.generation == generation)
                .values(generation=generation + 1)
            )
        done += 1
    return done / (time.monotonic() - started)


def throughput(ctx, engine, pool, processes, hosts, per_process, ceiling):
    _empty(engine)
    total = processes * per_process
    trackers = _hosts(ctx, hosts, -(-total // hosts))
    instance_uuids = _instances(ctx, total)
    for project in PROJECTS:
        share = sum(1 for i in range(total) if PROJECTS[i % len(PROJECTS)] == project)
        objects.QuotaLimit.set(ctx, project, RC, share)
    host_names = sorted(trackers)
    jobs = [
        [(host_names[j % hosts], instance_uuids[j]) for j in range(i, total, processes)]
        for i in range(processes)
    ]
    outcomes = pool.map(_worker_claims, jobs, chunksize=1)
    elapsed = max(o["ended"] for o in outcomes) - min(o["started"] for o in outcomes)
    claimed = sum(o.get("claimed", 0) for o in outcomes)
    doubles, over = _check(engine)
    return {
        "kind": "throughput",
        "processes": processes,
        "hosts": hosts,
        "claims": claimed,
        "claims_per_s": round(claimed / elapsed, 1),
        "ceiling_per_s": round(ceiling, 1),
        "pct_of_ceiling": round(100.0 * claimed / elapsed / ceiling, 1),
        "retries_per_claim": round(
            sum(o.get("retries", 0) for o in outcomes) / total, 3
        ),
        "max_retries_one_claim": max(o.get("max_retries", 0) for o in outcomes),
        "give_ups": sum(o.get("gave_up", 0) for o in outcomes),
        "refused_with_capacity": sum(o.get("refused", 0) for o in outcomes),
        "double_assigned": doubles,
        "over_quota": over,
    }


def _prefill(ctx, tracker, host, count):
    """``count`` instances on the host, claimed as a claim does it (untimed):
    half of them hold a namespace, up to 32; the others hold none."""
    holders = min(count // 2, 32)
    for pmem, how_many in ((True, holders), (False, count - holders)):
        for instance_uuid in _instances(ctx, how_many, pmem):
            instance = objects.Instance.get_by_uuid(ctx, instance_uuid, ["flavor"])
            tracker.instance_claim(ctx, instance, host)


def latency(ctx, engine, sizes, samples):
    rows = []
    for size in sizes:
        _empty(engine)
        tracker = _hosts(ctx, 1, 64)["compute0"]
        _prefill(ctx, tracker, "compute0", size)
        timings, doubles, over = [], 0, 0
        for instance_uuid in _instances(ctx, samples):
            instance = objects.Instance.get_by_uuid(ctx, instance_uuid, ["flavor"])
            started = time.perf_counter()
            tracker.instance_claim(ctx, instance, "compute0")
            timings.append((time.perf_counter() - started) * 1000)
            found_doubles, found_over = _check(engine)
            doubles, over = doubles + found_doubles, over + found_over
            tracker.abort_instance_claim(ctx, instance, "compute0")
        median = statistics.median(timings)
        rows.append(
            {
                "kind": "latency",
                "processes": 1,
                "hosts": 1,
                "instances": size,
                "claims": samples,
                "latency_ms_median": round(median, 2),
                "latency_ms_p95": round(sorted(timings)[int(0.95 * (samples - 1))], 2),
                "claims_per_s": round(1000.0 / median, 1),
                "ceiling_per_s": None,
                "retries_per_claim": 0.0,
                "give_ups": 0,
                "double_assigned": doubles,
                "over_quota": over,
            }
        )
    base = rows[0]["latency_ms_median"]
    for row in rows:
        row["x_vs_smallest"] = round(row["latency_ms_median"] / base, 2)
    return rows


class Target:
    """A database to measure: its URL on each node (one for a plain server,
    three for a Galera cluster); ``drop()`` removes it."""

    def __init__(self, backend, tmp_dir):
        self.backend = backend
        if backend != "galera":
            self._database = databases.Database(backend, tmp_dir)
            self.urls = [self._database.url]
            return
        nodes = [u.strip() for u in os.environ.get(GALERA_ENV, "").split(",")]
        if len([u for u in nodes if u]) != 3:
            raise RuntimeError(f"{GALERA_ENV} does not name the three nodes")
        self._name = "pmt_" + uuid.uuid4().hex[:12]
        self._admin = sa.create_engine(nodes[0], isolation_level="AUTOCOMMIT")
        with self._admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {self._name}"))
        self.urls = [
            sa_url.make_url(u)
            .set(database=self._name)
            .render_as_string(hide_password=False)
            for u in nodes
        ]

    def placements(self):
        """(nodes, URLs the workers spread over): on Galera, all three nodes
        and then one."""
        if len(self.urls) == 1:
            return [(1, self.urls)]
        return [(3, self.urls), (1, self.urls[:1])]

    def drop(self):
        if self.backend != "galera":
            self._database.drop()
            return
        with self._admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {self._name}"))
        self._admin.dispose()


def _pool(urls, processes):
    spawn = multiprocessing.get_context("spawn")
    pool = spawn.Pool(
        processes, initializer=_worker_init, initargs=(urls, spawn.Value("i", 0))
    )
    _wait_for_workers(pool, processes)
    return pool


def run_backend(backend, args, tmp_dir):
    target = Target(backend, tmp_dir)
    rows = []
    try:
        engine = _make_engine(target.urls[0])
        migration.upgrade(engine)
        reset = db_api.context_manager.patch_engine(engine)
        ctx = pmt_context.get_admin_context()
        for nodes, urls in target.placements():
            with _pool(urls, max(args.processes)) as pool:
                _empty(engine)
                _hosts(ctx, 1, 1)
                node_id = objects.ComputeNode.get_by_host_and_nodename(
                    ctx, "compute0", "compute0"
                ).id
                ceiling = _ceiling(engine, node_id, args.ceiling_seconds)
                for hosts in args.hosts:
                    for processes in args.processes:
                        row = throughput(ctx, engine, pool, processes, hosts,
                                         args.per_process, ceiling)  # fmt: skip
                        rows.append(dict(row, backend=backend, nodes=nodes))
        for row in latency(ctx, engine, args.sizes, args.samples):
            rows.append(dict(row, backend=backend, nodes=1))
        reset()
        engine.dispose()
    finally:
        target.drop()
    return rows


def _available(backend, tmp_dir):
    try:
        Target(backend, tmp_dir).drop()
        return True
    except BaseException:  # pytest's skip/fail outcomes are BaseExceptions
        return False


def print_tables(rows):
    header = (
        f"{'backend':<11}{'nodes':>6}{'procs':>6}{'hosts':>6}{'claims':>8}"
        f"{'claims/s':>10}"
        f"{'ceiling/s':>11}{'%ceil':>7}{'retry/claim':>12}{'max':>5}{'give-ups':>9}"
        f"{'refused':>8}{'double':>7}{'over-q':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in (r for r in rows if r["kind"] == "throughput"):
        print(
            f"{r['backend']:<11}{r['nodes']:>6}{r['processes']:>6}{r['hosts']:>6}"
            f"{r['claims']:>8}"
            f"{r['claims_per_s']:>10.1f}{r['ceiling_per_s']:>11.1f}"
            f"{r['pct_of_ceiling']:>7.1f}{r['retries_per_claim']:>12.3f}"
            f"{r['max_retries_one_claim']:>5}"
            f"{r['give_ups']:>9}{r['refused_with_capacity']:>8}"
            f"{r['double_assigned']:>7}{r['over_quota']:>7}"
        )
    print()
    header = (
        f"{'backend':<11}{'instances':>10}{'median ms':>11}{'p95 ms':>9}"
        f"{'x vs 10':>9}{'double':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in (r for r in rows if r["kind"] == "latency"):
        print(
            f"{r['backend']:<11}{r['instances']:>10}{r['latency_ms_median']:>11.2f}"
            f"{r['latency_ms_p95']:>9.2f}{r['x_vs_smallest']:>9.2f}"
            f"{r['double_assigned']:>8}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    parser.add_argument("--quick", action="store_true", help="small run on SQLite")
    parser.add_argument(
        "--backends",
        default="sqlite,mysql,postgresql,galera",
        help="comma-separated; unreachable ones are left out",
    )
    parser.add_argument("--processes", default="1,4,16", help="comma-separated")
    parser.add_argument("--hosts", default="1,16", help="comma-separated")
    parser.add_argument(
        "--sizes", default="10,100,1000", help="instances on the host, for latency"
    )
    args = parser.parse_args()
    for name in ("processes", "hosts", "sizes"):
        setattr(args, name, tuple(int(v) for v in getattr(args, name).split(",")))
    if args.quick:
        args.backends = "sqlite"
        args.per_process, args.samples, args.ceiling_seconds = 8, 20, 1.0
    else:
        args.per_process, args.samples, args.ceiling_seconds = 40, 60, 3.0

    db_api.context_manager.configure(connection="sqlite://")
    objects.register_all()
    rows = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        for backend in args.backends.split(","):
            if not _available(backend, tmp_dir):
                print(f"{backend}: not reachable, left out", file=sys.stderr)
                continue
            print(f"{backend}: running...", file=sys.stderr)
            rows.extend(run_backend(backend, args, tmp_dir))
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_tables(rows)
    bad = [
        r
        for r in rows
        if r["give_ups"]
        or r["double_assigned"]
        or r["over_quota"]
        or r.get("refused_with_capacity")
    ]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
