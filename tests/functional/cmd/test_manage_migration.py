"""pmemtrack-manage migration list / recover: an operator finds a move whose
process died and rolls it back, with the console script and a config file."""

import json

import pytest

from pmemtrack import objects
from tests.fixtures import hosts
from tests.fixtures.sshd import sshd_server  # noqa: F401 (fixture)
from tests.functional.cmd import cli
from tests.functional.compute.cloud import Cloud
from tests.functional.compute.cloud import crash_mid_move
from tests.functional.compute.cloud import devpaths
from tests.functional.compute.cloud import fill
from tests.functional.compute.cloud import is_zero

RUNNING = 1


@pytest.fixture
def abandoned(ctx, tmp_path, sshd_server):  # noqa: F811
    cloud = Cloud(ctx, tmp_path, sshd_server)
    instance = cloud.boot("SMALL")
    old_data = fill(instance)
    migration = crash_mid_move(cloud, instance)
    return cloud, instance, old_data, migration


def test_an_operator_lists_and_recovers_an_abandoned_move(
    abandoned, db_engine, tmp_path
):
    cloud, instance, old_data, migration = abandoned
    [new_path] = devpaths(instance.migration_context.new_resources)
    dest = cloud.managers["compute2"]
    conf = cli.write_conf(
        tmp_path / "compute2.conf", cli.host_sections(dest, cli.db_url(db_engine))
    )

    [row] = cli.manage_json(conf, "migration", "list")
    assert (row["Migration"], row["Status"], row["Task state"]) == (
        migration.uuid,
        "migrating",
        "resize_migrating",
    )
    assert row["Source"] == "compute1" and row["Destination"] == "compute2"
    assert 0 <= row["Age (s)"] < 60

    young = cli.manage(conf, "migration", "recover", migration.uuid)
    cli.assert_one_error_line(young, "--force")
    assert objects.Migration.get_by_id(cloud.ctx, migration.id).status == "migrating"

    done = cli.manage(conf, "migration", "recover", migration.uuid, "--force", "-f",
                      "json")  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Status"] == "error"
    assert "Rolling back move" in done.stderr  # the audit trail
    assert cli.manage_json(conf, "migration", "list") == []
    assert is_zero(new_path)  # wiped by the compute2 side of the roll-back
    stored = objects.Instance.get_by_uuid(cloud.ctx, instance.uuid, ["resources"])
    assert (stored.host, stored.vm_state, stored.task_state) == (
        "compute1",
        "active",
        None,
    )
    # compute1's own pass starts the guest again, on its data.
    cloud.managers["compute1"].update_available_resource(cloud.ctx)
    assert cloud.driver("compute1").get_info(stored).state == RUNNING
    for path, data in old_data.items():
        assert hosts.read_device(path) == data
    assert sorted(cloud.free("compute2")) == [f"compute2-ns{i}" for i in range(4)]


def test_recovering_a_move_that_is_over_is_refused(abandoned, db_engine, tmp_path):
    cloud, _instance, _data, migration = abandoned
    migration.status = "confirmed"
    migration.save()
    conf = cli.write_conf(
        tmp_path / "c.conf",
        cli.host_sections(cloud.managers["compute1"], cli.db_url(db_engine)),
    )
    result = cli.manage(conf, "migration", "recover", migration.uuid, "--force")
    cli.assert_one_error_line(result, "is confirmed")
