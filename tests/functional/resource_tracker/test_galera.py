"""Claims on a three-node MariaDB Galera cluster (tools/galera-cluster), with
writer processes spread round-robin over the nodes.

On Galera a row lock holds on its own node only; a conflicting write from
another node aborts the transaction (error 1213) at its next statement or at
COMMIT. The claim's generation compare-and-update, retried in a fresh
transaction, is what keeps every invariant: zero namespaces assigned twice,
zero projects over quota, no claim refused while capacity remains, no
give-ups; and all three nodes end with the same rows.
"""

import os
import subprocess
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import url as sa_url

from pmemtrack import context as pmt_context
from pmemtrack import objects
from pmemtrack.db import api as db_api
from pmemtrack.db import migration
from tests.fixtures import databases
from tests.functional.cmd import cli
from tests.functional.resource_tracker import racer
from tests.functional.resource_tracker.fixtures import Cloud

ENV = "PMEMTRACK_TEST_GALERA_URLS"


def _cluster_urls():
    urls = [u.strip() for u in os.environ.get(ENV, "").split(",") if u.strip()]
    if len(urls) != 3:
        databases.unavailable("galera", f"{ENV} does not name the three nodes")
    return urls


@pytest.fixture
def galera():
    """A new empty database on the cluster: its URL on each node."""
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
    """Engines on each node of a migrated database; the facade on node 1."""
    engines = [sa.create_engine(url) for url in galera]
    migration.upgrade(engines[0])
    reset = db_api.context_manager.patch_engine(engines[0])
    yield engines
    reset()
    for engine in engines:
        engine.dispose()


def _text(url):
    return url.render_as_string(hide_password=False)


def _rows(engine):
    """What a node holds of the claims: every assignment and generation."""
    with engine.connect() as conn:
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
