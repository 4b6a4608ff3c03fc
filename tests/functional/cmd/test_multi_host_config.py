"""One config file describes a two-host deployment ([DEFAULT] compute_hosts
and a [host:NAME] group per other host): an operator drives every instance of
it with the console scripts, a resize across hosts copies the data."""

import json

import pytest

from pmemtrack import objects
from tests.fixtures import hosts
from tests.fixtures.sshd import sshd_server  # noqa: F401 (fixture)
from tests.functional.cmd import cli

PATTERN = b"tenant data that must follow the guest\n" * 1000


def _deployment_conf(tmp_path, db_url, server, compute2_address="127.0.0.1"):
    compute1 = hosts.make_host(tmp_path, "compute1", {"MEDIUM": 1, "LARGE": 1})
    compute2 = hosts.make_host(tmp_path, "compute2", {"MEDIUM": 1, "LARGE": 1})
    sections = cli.host_sections(compute1, db_url)
    sections["DEFAULT"].update(compute_hosts="compute2", migration_address="127.0.0.3")
    sections["migration"] = hosts.ssh_options(server)
    other = compute2.conf
    sections["host:compute2"] = {
        "connection_uri": other.libvirt.connection_uri,
        "migration_address": compute2_address,
        "backend": "simulated",
        "simulated_path": other.pmem.simulated_path,
        "namespaces": other.pmem.namespaces,
    }
    return cli.write_conf(tmp_path / "deployment.conf", sections)


def _flavors(conf):
    """The operator's two flavors (their labels must be reported first)."""
    for name, label in (("pmem.medium", "MEDIUM"), ("pmem.large", "LARGE")):
        cli.manage_json(conf, "flavor", "create", name, "--ram", "512", "--vcpus",
                        "1", "--property", f"hw:pmem={label}")  # fmt: skip


def _synced_with_flavors(conf):
    assert cli.manage(conf, "host", "sync").returncode == 0
    _flavors(conf)


def _client(conf, *args):
    result = cli.run(cli.PMEMTRACK, conf, *args, "-f", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_one_file_drives_every_host_and_a_resize_copies_across(
    ctx,
    db_engine,
    tmp_path,
    sshd_server,  # noqa: F811
):
    conf = _deployment_conf(tmp_path, cli.db_url(db_engine), sshd_server)

    synced = cli.manage(conf, "host", "sync")
    assert synced.returncode == 0, synced.stderr
    assert synced.stdout.splitlines() == [
        "compute1 (compute1): inventory reported; 2 added",
        "compute2 (compute2): inventory reported; 2 added",
    ]
    listed = cli.manage_json(conf, "host", "list")
    assert {(h["Host"], h["Migration address"]) for h in listed} == {
        ("compute1", "127.0.0.3"),
        ("compute2", "127.0.0.1"),
    }
    assert all(h["Service version"] >= 1 for h in listed)
    _flavors(conf)

    vm = _client(conf, "server", "create", "vm1", "--flavor", "pmem.medium",
                   "--host", "compute1")  # fmt: skip
    instance = objects.Instance.get_by_uuid(ctx, vm["id"], ["resources"])
    [old] = instance.resources.objects
    hosts.write_device(old.metadata.devpath, PATTERN)

    moved = _client(conf, "server", "resize", "vm1", "--flavor", "pmem.large",
                      "--host", "compute2", "--copy-pmem-devices")  # fmt: skip
    assert (moved["host"], moved["vm_state"]) == ("compute2", "resized")
    instance = objects.Instance.get_by_uuid(ctx, vm["id"], ["resources"])
    [new] = instance.resources.objects
    assert new.metadata.devpath.startswith(str(tmp_path / "compute2"))
    assert hosts.read_device(new.metadata.devpath, len(PATTERN)) == PATTERN

    # Every server command works on the instance now on the other host.
    confirmed = _client(conf, "server", "confirm", "vm1")
    assert confirmed["vm_state"] == "active"
    assert hosts.read_device(old.metadata.devpath) == bytes(len(
        hosts.read_device(old.metadata.devpath)))  # fmt: skip
    for action, state in (("stop", "stopped"), ("start", "active"),
                          ("reboot", "active")):  # fmt: skip
        shown = _client(conf, "server", action, "vm1")
        assert (shown["host"], shown["vm_state"]) == ("compute2", state)
    assert hosts.read_device(new.metadata.devpath, len(PATTERN)) == PATTERN
    deleted = _client(conf, "server", "delete", "vm1")
    assert deleted == {"id": vm["id"], "deleted": True}
    assert set(hosts.read_device(new.metadata.devpath)) == {0}


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_instance_on_a_host_the_file_does_not_describe_gets_one_line(
    backend,
    ctx,
    db_engine,
    tmp_path,
    sshd_server,  # noqa: F811
):
    conf = _deployment_conf(tmp_path, cli.db_url(db_engine), sshd_server)
    _synced_with_flavors(conf)
    _client(conf, "server", "create", "vm1", "--flavor", "pmem.medium",
            "--host", "compute2")  # fmt: skip
    only_compute1 = tmp_path / "compute1-only.conf"
    only_compute1.write_text(
        conf.read_text().replace("compute_hosts = compute2", "compute_hosts =")
    )
    before = objects.Instance.get_by_uuid(ctx, _client(conf, "server", "show",
                                                      "vm1")["id"])  # fmt: skip

    stopped = cli.run(cli.PMEMTRACK, only_compute1, "server", "stop", "vm1")

    cli.assert_one_error_line(stopped, "host compute2 is not driven here")
    after = objects.Instance.get_by_uuid(ctx, before.uuid)
    assert (after.vm_state, after.task_state) == (before.vm_state, None)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_host_group_without_its_hypervisor_is_one_line(backend, db_engine, tmp_path):
    manager = hosts.make_host(tmp_path, "compute1", {"MEDIUM": 1})
    sections = cli.host_sections(manager, cli.db_url(db_engine))
    sections["DEFAULT"]["compute_hosts"] = "compute2"
    sections["host:compute2"] = {"namespaces": "MEDIUM:ns9"}
    conf = cli.write_conf(tmp_path / "bad.conf", sections)

    listed = cli.run(cli.PMEMTRACK, conf, "server", "list")

    cli.assert_one_error_line(listed, "[host:compute2] connection_uri")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_copy_goes_to_the_destinations_migration_address(
    backend,
    ctx,
    db_engine,
    tmp_path,
    sshd_server,  # noqa: F811
):
    # The test sshd listens on 127.0.0.1 only: nothing answers at 127.0.0.2.
    conf = _deployment_conf(tmp_path, cli.db_url(db_engine), sshd_server,
                            compute2_address="127.0.0.2")  # fmt: skip
    _synced_with_flavors(conf)
    vm = _client(conf, "server", "create", "vm1", "--flavor", "pmem.medium",
                 "--host", "compute1")  # fmt: skip
    [old] = objects.Instance.get_by_uuid(ctx, vm["id"], ["resources"]).resources
    hosts.write_device(old.metadata.devpath, PATTERN)

    moved = cli.run(cli.PMEMTRACK, conf, "server", "resize", "vm1", "--flavor",
                    "pmem.large", "--host", "compute2", "--copy-pmem-devices")  # fmt: skip

    assert "on 127.0.0.2 failed: Cannot connect over SSH" in moved.stderr
    assert moved.returncode == 1
    shown = _client(conf, "server", "show", "vm1")
    assert (shown["host"], shown["vm_state"]) == ("compute1", "active")
    assert hosts.read_device(old.metadata.devpath, len(PATTERN)) == PATTERN
