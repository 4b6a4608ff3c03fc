"""An operator's story on a multi-writer Galera cluster without causal reads:
two wipers of one host, through two nodes, never zero a namespace a tenant
was given in between.

A released namespace stays dirty because its wipe failed. The periodic pass
through node 2 wipes it and makes it available; a boot through node 3 is
given it (claimed; its guest is not defined yet). Node 1 has not applied
either commit yet (its applier is paused with FLUSH TABLES WITH READ LOCK,
which is how a node that lags looks at its worst): a second wiper through
node 1 still reads the namespace as dirty and nobody's. Reading is not
enough to wipe: the wiper must first commit a transaction that saw the row
dirty and bumped the node's generation, and that commit fails certification
(1213) because node 2 changed the node since node 1's read. Retried with
fresh reads, the wiper finds the namespace available and leaves the
tenant's data alone.

Pausing node 1 stops every write through it, so the test holds the cluster
alone, like the node-loss test.
"""

import threading
import time

from oslo_db.sqlalchemy import engines as oslo_engines
import pytest
import sqlalchemy as sa

from pmemtrack import context as pmt_context
from pmemtrack import objects
from pmemtrack.db import migration
from tests.fixtures import databases
from tests.functional.resource_tracker import test_galera
from tests.functional.resource_tracker.fixtures import Cloud

galera = test_galera.galera

# A blocked wiper shows within a second; the bound is for a loaded machine.
BLOCKED_TIMEOUT = 60


@pytest.fixture(autouse=True)
def sole_user():
    with databases.galera_cluster_lock(exclusive=True):
        yield


@pytest.fixture
def nodes(galera):
    """Engines on each node of a migrated database, as the service makes them:
    node 1 reads what it has applied (wsrep_sync_wait = 0, the server's
    default), nodes 2 and 3 read causally, so each step there sees the last."""
    engines = [
        oslo_engines.create_engine(test_galera._text(url), max_retries=0,
                                   mysql_sql_mode="TRADITIONAL",
                                   mysql_wsrep_sync_wait=sync_wait)
        for url, sync_wait in zip(galera, (0, 1, 1), strict=True)
    ]  # fmt: skip
    migration.upgrade(engines[1])
    yield engines
    for engine in engines:
        engine.dispose()


class PausedApplier:
    """Node 1 applies no other node's commit from entry until resume()."""

    def __init__(self, engine):
        self.engine = engine
        self.conn = None

    def __enter__(self):
        self.conn = self.engine.connect()
        self.conn.execute(sa.text("FLUSH TABLES WITH READ LOCK"))
        return self

    def writers_waiting(self):
        """Sessions on this database whose write waits for the pause to end."""
        with self.engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT COUNT(*) FROM information_schema.processlist "
                "WHERE db = DATABASE() AND (state LIKE 'Waiting for backup lock%'"
                " OR state LIKE 'Waiting for global read lock%')"
            )).scalar()  # fmt: skip

    def resume(self):
        if self.conn is not None:
            self.conn.execute(sa.text("UNLOCK TABLES"))
            self.conn.close()
            self.conn = None

    def __exit__(self, *exc):
        self.resume()


def _in_thread(work):
    outcome = {}

    def run():
        try:
            outcome["result"] = work()
        except Exception as err:  # reported by the test
            outcome["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_wipers_through_two_nodes_never_zero_a_namespace_handed_out_between(
    nodes,
):
    ctx = pmt_context.get_admin_context()
    node1, node2, node3 = nodes
    with test_galera._through(node2):
        cloud = Cloud(ctx)
        cloud.add_host("compute1", MEDIUM=1)
        driver = cloud.driver["compute1"]
        driver.failing_wipes.add("ns0")
        cloud.delete(cloud.boot("compute1", "MEDIUM"))
        driver.failing_wipes.clear()
    assert driver.wiped == []  # the failed wipe left ns0 dirty
    test_galera._rows(node1)  # node 1 has applied everything up to here

    with PausedApplier(node1) as paused:
        with test_galera._through(node2):
            assert cloud.tracker["compute1"].wipe_released(ctx, "compute1") == ["ns0"]
        with test_galera._through(node3):
            # Claimed, its guest not defined yet: nothing on the hypervisor
            # tells the namespace is taken.
            tenant = cloud.new_instance("MEDIUM")
            claim = cloud.tracker["compute1"].instance_claim(ctx, tenant, "compute1")
        assert [r.identifier for r in claim.resources] == ["ns0"]

        with test_galera._through(node1):
            wiper, outcome = _in_thread(
                lambda: cloud.restart("compute1").wipe_released(ctx, "compute1")
            )
            deadline = time.monotonic() + BLOCKED_TIMEOUT
            while (wiper.is_alive() and not paused.writers_waiting()
                   and time.monotonic() < deadline):  # fmt: skip
                time.sleep(0.05)
            # Whatever the wiper decided from node 1's stale reads alone, it
            # did before its first write, which waits for the pause to end.
            wiped_while_stale = list(driver.wiped)
            paused.resume()
            wiper.join(BLOCKED_TIMEOUT)

    assert not wiper.is_alive()
    assert outcome == {"result": []}
    assert wiped_while_stale == driver.wiped == [("/dev/dax0.0", "ns0")]
    with test_galera._through(node2):
        assert cloud.free("compute1") == []
        held = objects.Instance.get_by_uuid(ctx, tenant.uuid, ["resources"])
        assert [r.identifier for r in held.resources] == ["ns0"]
