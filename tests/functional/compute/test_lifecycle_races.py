"""Confirm, revert and delete of one resized instance from three processes at
once, on every backend and through the three nodes of a multi-writer Galera
cluster: at most one of confirm and revert wins, the others are refused in
one line, and nothing still in use is wiped."""

import multiprocessing

import pytest

from pmemtrack import context as pmt_context
from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.db import api as db_api
from tests.fixtures import hosts
from tests.functional.compute import lifecycle_racer
from tests.functional.compute.cloud import Cloud
from tests.functional.compute.cloud import devpaths
from tests.functional.compute.cloud import fill
from tests.functional.compute.cloud import is_zero
from tests.functional.resource_tracker import test_galera

galera = test_galera.galera
causal_nodes = test_galera.causal_nodes

SPAWN = multiprocessing.get_context("spawn")
ACTIONS = ("confirm", "revert", "delete")
# What a loser may be told: busy, already confirmed/reverted, or gone.
LOSING = ("is busy", "has no finished resize", "could not be found")


def _race(urls, tmp_path, server, instance, engine_options):
    """Each action in its own process, through its own URL."""
    barrier = SPAWN.Barrier(len(ACTIONS))
    results = SPAWN.Queue()
    processes = [
        SPAWN.Process(
            target=lifecycle_racer.act,
            args=(
                url,
                engine_options,
                str(tmp_path),
                hosts.ssh_options(server),
                action,
                instance.uuid,
                barrier,
                results,
            ),
        )  # fmt: skip
        for action, url in zip(ACTIONS, urls, strict=True)
    ]
    for process in processes:
        process.start()
    outcomes = {}
    for _ in processes:
        action, result, detail = results.get(timeout=300)
        outcomes[action] = (result, detail)
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return outcomes


@pytest.mark.parametrize("round_", range(2))
def test_confirm_revert_and_delete_at_once(cloud, db_engine, tmp_path, sshd_server,
                                           round_):  # fmt: skip
    urls = [db_engine.url.render_as_string(hide_password=False)] * len(ACTIONS)
    _confirm_revert_and_delete_at_once(cloud, urls, tmp_path, sshd_server, {})


@pytest.mark.parametrize("round_", range(2))
def test_confirm_revert_and_delete_at_once_through_three_galera_nodes(
    causal_nodes, tmp_path, sshd_server, round_
):
    # Every process writes through its own node, as on a multi-writer
    # cluster behind no proxy, with the causal reads README asks for there.
    reset = db_api.context_manager.patch_engine(causal_nodes[0])
    try:
        cloud = Cloud(pmt_context.get_admin_context(), tmp_path, sshd_server)
        urls = [test_galera._text(engine.url) for engine in causal_nodes]
        _confirm_revert_and_delete_at_once(
            cloud, urls, tmp_path, sshd_server, {"mysql_wsrep_sync_wait": 1}
        )
    finally:
        reset()


def _confirm_revert_and_delete_at_once(cloud, urls, tmp_path, sshd_server,
                                       engine_options):  # fmt: skip
    instance = cloud.boot("SMALL")
    [(old_path, old_data)] = fill(instance).items()
    cloud.api.resize(cloud.ctx, instance, hosts.flavor("BIG"), "compute2", True)
    [new_path] = devpaths(instance.resources)
    new_data = hosts.read_device(new_path)

    outcomes = _race(urls, tmp_path, sshd_server, instance, engine_options)

    won = {action for action, (result, _) in outcomes.items() if result == "won"}
    for result, detail in outcomes.values():
        assert result != "error", detail
        if result == "refused":
            assert any(text in detail for text in LOSING), detail
    assert won and not {"confirm", "revert"} <= won, outcomes
    if "delete" in won:
        with pytest.raises(Exception, match="could not be found"):
            objects.Instance.get_by_uuid(cloud.ctx, instance.uuid)
        assert is_zero(old_path) and is_zero(new_path)
    elif "confirm" in won:
        assert hosts.read_device(new_path) == new_data
        assert is_zero(old_path)
    else:
        assert hosts.read_device(old_path) == old_data
        assert is_zero(new_path)
    stored = {
        r.identifier for i in objects.InstanceList.get_all(cloud.ctx, ["resources"])
        for r in i.resources or []
    }  # fmt: skip
    for host in ("compute1", "compute2"):
        for ns in cloud.driver(host).get_pmem_namespaces(host):
            if ns.name not in stored and ns.name in cloud.free(host):
                assert is_zero(ns.devpath)


def test_an_operation_acts_on_the_instance_as_it_is_when_taken(cloud):
    """An operator's command read the instance before another one, now ended,
    changed it: it is judged on what the instance is now, and refused."""
    instance = cloud.boot("SMALL")
    read_before = objects.Instance.get_by_uuid(
        cloud.ctx, instance.uuid, ["flavor", "resources", "migration_context"]
    )
    cloud.api.stop(cloud.ctx, instance)

    with pytest.raises(exception.InvalidMoveRequest, match="it is stopped; only"):
        cloud.api.stop(cloud.ctx, read_before)

    stored = objects.Instance.get_by_uuid(cloud.ctx, instance.uuid)
    assert (stored.vm_state, stored.task_state) == ("stopped", None)
    cloud.api.start(cloud.ctx, stored)
    assert stored.vm_state == "active"
