"""pmemtrack-manage flavor: an operator stores a flavor asking for a label of
their own (128G), boots it, and gets one clear line for each mistake."""

import json

import pytest

from pmemtrack import objects
from tests.fixtures import hosts
from tests.functional.cmd import cli


def _deployment(tmp_path, db_engine):
    manager = hosts.make_host(tmp_path, "compute1", {"128G": 2, "SMALL": 1})
    conf = cli.write_conf(
        tmp_path / "cli.conf", cli.host_sections(manager, cli.db_url(db_engine))
    )
    assert cli.manage(conf, "host", "sync").returncode == 0
    return conf


def test_an_operator_flavor_with_their_own_label_boots(ctx, db_engine, tmp_path):
    conf = _deployment(tmp_path, db_engine)

    created = cli.manage_json(conf, "flavor", "create", "pmem.128g", "--ram",
                              "2048", "--vcpus", "2", "--property",
                              "hw:pmem=128G,128g")  # fmt: skip

    assert created == {"ID": "pmem.128g", "Name": "pmem.128g", "RAM": 2048,
                       "VCPUs": 2, "Properties": "hw:pmem='128G,128g'"}  # fmt: skip
    assert cli.manage_json(conf, "flavor", "list") == [created]
    booted = cli.run(cli.PMEMTRACK, conf, "server", "create", "vm1", "--flavor",
                     "pmem.128g", "-f", "json")  # fmt: skip
    assert booted.returncode == 0, booted.stderr
    instance = objects.Instance.get_by_uuid(
        ctx, json.loads(booted.stdout)["id"], ["resources", "flavor"]
    )
    assert [r.metadata.label for r in instance.resources.objects] == ["128G"] * 2

    deleted = cli.manage(conf, "flavor", "delete", "pmem.128g")
    assert deleted.returncode == 0, deleted.stderr
    assert cli.manage_json(conf, "flavor", "list") == []
    kept = objects.Instance.get_by_uuid(ctx, instance.uuid, ["flavor"])
    assert kept.flavor.extra_specs == {"hw:pmem": "128G,128g"}


# Input checks run before any SQL: one backend is enough (each is a process).
@pytest.mark.parametrize("backend", ["sqlite"])
def test_each_bad_flavor_is_one_line_and_stores_nothing(
    backend, ctx, db_engine, tmp_path
):
    conf = _deployment(tmp_path, db_engine)
    cli.manage_json(conf, "flavor", "create", "taken", "--ram", "512", "--vcpus", "1")
    create = ("flavor", "create")
    for args, fragment in (
        ((*create, "f", "--ram", "512", "--vcpus", "1", "--property", "hw:pmem=NOPE"),
         "no compute node offers label NOPE"),
        ((*create, "f", "--ram", "0", "--vcpus", "1"), "--ram '0' is not valid"),
        ((*create, "f", "--ram", "512", "--vcpus", "1e9"), "--vcpus '1e9'"),
        ((*create, "f", "--ram", "512", "--vcpus", "1", "--property", "hw:pmem"),
         "write it KEY=VALUE"),
        ((*create, "f", "--ram", "512", "--vcpus", "1", "--property",
          "hw:pmem=128G,,SMALL"), "not a comma-separated list of labels"),
        ((*create, "taken", "--ram", "512", "--vcpus", "1"),
         "named taken or with id taken already exists"),
        ((*create, " ", "--ram", "512", "--vcpus", "1"), "NAME ' ' is not valid"),
        (("flavor", "delete", "nope"), "Flavor nope is not known; known flavors: taken"),
    ):  # fmt: skip
        cli.assert_one_error_line(cli.manage(conf, *args), fragment)
    assert [f.name for f in objects.FlavorList.get_all(ctx)] == ["taken"]

    unknown = cli.run(cli.PMEMTRACK, conf, "server", "create", "vm", "--flavor", "f")
    cli.assert_one_error_line(unknown, "Flavor f is not known; known flavors: taken")
    assert objects.InstanceList.get_all(ctx, []).objects == []


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_label_named_only_in_quota_class_limits_is_accepted(
    backend, db_engine, tmp_path
):
    conf = _deployment(tmp_path, db_engine)
    with open(conf, "a") as f:
        f.write("[quota]\nclass_limits = CUSTOM_PMEM_NAMESPACE_FUTURE:4\n")

    created = cli.manage_json(conf, "flavor", "create", "later", "--ram", "512",
                              "--vcpus", "1", "--property", "hw:pmem=future")  # fmt: skip

    assert created["Properties"] == "hw:pmem='future'"
