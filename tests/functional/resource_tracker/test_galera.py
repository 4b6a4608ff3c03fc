"""Claims on a three-node MariaDB Galera cluster (tools/galera-cluster), with
writer processes spread round-robin over the nodes.

On Galera a row lock holds on its own node only; a conflicting write from
another node aborts the transaction (error 1213) at its next statement or at
COMMIT. The claim's generation compare-and-update, retried in a fresh
transaction, is what keeps every invariant: zero namespaces assigned twice,
zero projects over quota, no claim refused while capacity remains, no
give-ups; and all three nodes end with the same rows. Sixteen writers over the
three nodes stay inside the default retry budget (claim_max_retries = 100;
the claims benchmark measured at most 39 retries for one claim).

Each node applies the others' commits after they returned: the claim stays
right when it reads a node that lags (the stale write fails certification and
is retried), but the operator's walk of test_invariants.py only does what a
single database does when its reads are causal (wsrep_sync_wait = 1).
"""

import collections
import contextlib
import os
import subprocess
import uuid

from oslo_db.sqlalchemy import engines as oslo_engines
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import url as sa_url

from pmemtrack import context as pmt_context
from pmemtrack import objects
from pmemtrack.db import api as db_api
from pmemtrack.db import migration
from tests.conftest import make_engine
from tests.fixtures import databases
from tests.functional.cmd import cli
from tests.functional.resource_tracker import racer
from tests.functional.resource_tracker import test_invariants as invariants
from tests.functional.resource_tracker.fixtures import Cloud

ENV = "PMEMTRACK_TEST_GALERA_URLS"


def _cluster_urls():
    urls = [u.strip() for u in os.environ.get(ENV, "").split(",") if u.strip()]
    if len(urls) != 3:
        databases.unavailable("galera", f"{ENV} does not name the three nodes")
    return urls


@pytest.fixture
def galera():
    """A new empty database on the cluster: its URL on each node. The cluster
    is shared with the node-loss test, which takes it alone."""
    with databases.galera_cluster_lock():
        yield from _new_database()


def _new_database():
    urls = _cluster_urls()
    name = "pmt_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(urls[0], isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    except sa.exc.OperationalError as err:
        admin.dispose()
        databases.unavailable("galera", str(err).splitlines()[0])
    yield [sa_url.make_url(u).set(database=name) for u in urls]
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
    admin.dispose()


@pytest.fixture
def nodes(galera):
    """Engines on each node of a migrated database, as the service makes them
    (oslo.db's: a lost race is a DBDeadlock); the facade on node 1."""
    engines = [oslo_engines.create_engine(_text(url), max_retries=0,
                                          mysql_sql_mode="TRADITIONAL")
               for url in galera]  # fmt: skip
    migration.upgrade(engines[0])
    reset = db_api.context_manager.patch_engine(engines[0])
    yield engines
    reset()
    for engine in engines:
        engine.dispose()


def _text(url):
    return url.render_as_string(hide_password=False)


def _rows(engine):
    """What a node holds of the claims: every assignment and generation, once
    it applied every write the cluster committed so far (Galera applies the
    other nodes' writes after their COMMIT returned)."""
    with engine.connect() as conn:
        conn.execute(sa.text("SET SESSION wsrep_sync_wait = 1"))
        extras = conn.execute(
            sa.text("SELECT instance_uuid, resources FROM instance_extra ORDER BY 1")
        ).all()
        nodes = conn.execute(
            sa.text("SELECT id, generation FROM compute_nodes ORDER BY 1")
        ).all()
    return extras, nodes  # fmt: skip


def test_db_sync_through_one_node_gives_every_node_the_schema(galera, tmp_path):
    def manage(url, *args):
        conf = cli.write_conf(tmp_path / "galera.conf",
                              {"database": {"connection": _text(url)}})  # fmt: skip
        return subprocess.run([cli.MANAGE, "--config-file", str(conf), *args],
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    synced = manage(galera[0], "db", "sync")

    assert synced.returncode == 0, synced.stderr
    head = migration.head_revision()
    for url in galera:
        version = manage(url, "db", "version")
        assert version.stdout.strip() == f"{head} (up to date)", version.stderr


@pytest.mark.parametrize("processes", [4, 8])
def test_writers_on_every_node_never_assign_a_namespace_twice(nodes, galera,
                                                              processes):  # fmt: skip
    ctx = pmt_context.get_admin_context()
    cloud = Cloud(ctx)
    cloud.add_host("compute1", MEDIUM=(6, 6))
    instances = [cloud.new_instance("MEDIUM").uuid for _ in range(24)]
    jobs = [[("compute1", u) for u in instances[i::processes]]
            for i in range(processes)]  # fmt: skip

    outcomes = racer.run([_text(url) for url in galera], jobs)

    claimed = sum(o["claimed"] for o in outcomes)
    assert [o["errors"] for o in outcomes] == [[]] * processes
    assert (claimed, sum(o["refused"] for o in outcomes)) == (12, 12)
    assert sum(o["gave_up"] for o in outcomes) == 0
    held = [r.key for i in objects.InstanceList.get_by_project(ctx, "project-a",
            ["resources"]) for r in (i.resources or [])]  # fmt: skip
    assert len(held) == len(set(held)) == 12
    assert cloud.free("compute1") == []
    first = _rows(nodes[0])
    assert all(_rows(engine) == first for engine in nodes[1:])


def test_writers_on_every_node_never_pass_the_quota(nodes, galera):
    ctx = pmt_context.get_admin_context()
    cloud = Cloud(ctx)
    for host in ("compute1", "compute2"):
        cloud.add_host(host, MEDIUM=8)
    objects.QuotaLimit.set(ctx, "project-a", "CUSTOM_PMEM_NAMESPACE_MEDIUM", 7)
    bound = [cloud.new_instance("MEDIUM").uuid for _ in range(12)]
    hosts = ("compute1", "compute2")
    jobs = [[(hosts[(i + j) % 2], u) for j, u in enumerate(bound[i::6])]
            for i in range(6)]  # fmt: skip

    outcomes = racer.run([_text(url) for url in galera], jobs)

    assert [o["errors"] for o in outcomes] == [[]] * 6
    assert sum(o["claimed"] for o in outcomes) == 7
    assert sum(o["gave_up"] for o in outcomes) == 0
    held = [r.key for i in objects.InstanceList.get_by_project(ctx, "project-a",
            ["resources"]) for r in (i.resources or [])]  # fmt: skip
    assert len(held) == len(set(held)) == 7


# Sixteen writer processes, round-robin over the three nodes (6, 5 and 5 per
# node), three claims each. A namespace for every instance; project-a's
# instances ask for twice its quota, project-b has no limit. So the outcome is
# known in advance: project-a gets exactly its quota, project-b everything it
# asks for, and no other claim is refused.
WRITERS = 16
CLAIMS_PER_WRITER = 3
INSTANCES = WRITERS * CLAIMS_PER_WRITER  # 48: 32 of project-a, 16 of project-b
QUOTA_A = 16
MEDIUM = "CUSTOM_PMEM_NAMESPACE_MEDIUM"


def _project(k):
    return "project-b" if k % 3 == 2 else "project-a"


def _held_by_project(ctx):
    return {
        project: [
            r.key
            for i in objects.InstanceList.get_by_project(ctx, project, ["resources"])
            for r in (i.resources or [])
        ]
        for project in ("project-a", "project-b")
    }


def _retry_figures(outcomes):
    retries = sorted(n for o in outcomes for n in o["retries_per_claim"])
    histogram = dict(sorted(collections.Counter(retries).items()))
    return (f"{len(retries)} claims, {sum(retries) / len(retries):.2f} retries "
            f"per claim, at most {max(retries)}; retries: claims {histogram}")  # fmt: skip


@pytest.mark.parametrize("hosts", [1, 4])
def test_sixteen_writers_get_what_capacity_and_quota_allow_and_never_give_up(
    nodes, galera, hosts
):
    ctx = pmt_context.get_admin_context()
    cloud = Cloud(ctx)
    names = [f"compute{h + 1}" for h in range(hosts)]
    per_host = INSTANCES // hosts
    for host in names:
        cloud.add_host(host, MEDIUM=(per_host // 2, per_host - per_host // 2))
    objects.QuotaLimit.set(ctx, "project-a", MEDIUM, QUOTA_A)
    instances = [cloud.new_instance("MEDIUM", _project(k)).uuid
                 for k in range(INSTANCES)]  # fmt: skip
    # Writer w's j-th claim goes to host (w + j) % hosts: every host is asked
    # for exactly as many namespaces as it has.
    jobs = [[(names[(w + j) % hosts], uuid)
             for j, uuid in enumerate(instances[w::WRITERS])]
            for w in range(WRITERS)]  # fmt: skip
    for engine in nodes:
        _rows(engine)  # every writer finds its instances on its node

    outcomes = racer.run([_text(url) for url in galera], jobs)

    print(f"\n16 writers, {hosts} host(s): {_retry_figures(outcomes)}")
    assert [o["errors"] for o in outcomes] == [[]] * WRITERS
    assert sum(o["gave_up"] for o in outcomes) == 0
    held = _held_by_project(ctx)
    keys = held["project-a"] + held["project-b"]
    assert len(keys) == len(set(keys))  # no namespace assigned twice
    # project-a not over its quota; no claim refused while capacity and quota
    # remained: project-a got all its quota, project-b all it asked for.
    assert {p: len(k) for p, k in held.items()} == {
        "project-a": QUOTA_A,
        "project-b": INSTANCES // 3,
    }
    refused = sum(o["refused"] for o in outcomes)
    assert refused == INSTANCES - len(keys)  # project-a's instances over quota
    assert sum(len(cloud.free(host)) for host in names) == refused
    first = _rows(nodes[0])
    assert all(_rows(engine) == first for engine in nodes[1:])


# -- reads through another node than the last write ----------------------------
#
# Galera replicates a commit to every node before COMMIT returns, but each node
# applies it afterwards: a read through node 2 right after a commit through
# node 1 may miss it. A stale claim cannot commit (its writes fail
# certification, 1213, and it is retried), but it can refuse wrongly, a move
# or its confirm can fail (InvalidClaim), and the operator's next step may act
# on what is no longer there (a wipe never zeroes a namespace handed out since:
# test_galera_wipes.py). wsrep_sync_wait = 1 makes each read (and BEGIN) wait until its node applied
# every commit that came before it.


@pytest.fixture
def causal_nodes(galera):
    """Engines on each node of a migrated database as the service makes them
    (oslo.db's: a lost race is a DBDeadlock), with causal reads."""
    engines = [oslo_engines.create_engine(_text(url), max_retries=0,
                                          mysql_sql_mode="TRADITIONAL",
                                          mysql_wsrep_sync_wait=1)
               for url in galera]  # fmt: skip
    migration.upgrade(engines[0])
    yield engines
    for engine in engines:
        engine.dispose()


@contextlib.contextmanager
def _through(engine):
    """The transaction facade on one node for a while."""
    reset = db_api.context_manager.patch_engine(engine)
    try:
        yield
    finally:
        reset()


@pytest.mark.parametrize("seed", [1, 2])
def test_random_walk_through_the_three_nodes_does_what_one_database_does(
    causal_nodes, tmp_path, seed
):
    # The operator's story of test_invariants.py (boots, deletes, moves,
    # confirms, reverts, orphans, refusals), each step through the next node,
    # the invariants checked after each: then the same walk on one SQLite
    # database. With causal reads the cluster makes every decision a single
    # database makes: none refused while capacity remained, none acting on
    # an instance already gone.
    ctx = pmt_context.get_admin_context()
    with _through(causal_nodes[0]):
        cloud = invariants.new_cloud(ctx)

    done = invariants.walk(cloud, ctx, seed,
                           through=lambda step: _through(causal_nodes[step % 3]))  # fmt: skip

    invariants.assert_every_kind_of_step(done)
    first = _rows(causal_nodes[0])
    assert all(_rows(engine) == first for engine in causal_nodes[1:])
    sqlite = make_engine(databases.Database("sqlite", tmp_path).url)
    migration.upgrade(sqlite)
    with _through(sqlite):
        on_one_database = invariants.walk(invariants.new_cloud(ctx), ctx, seed)
    sqlite.dispose()
    assert done == on_one_database
