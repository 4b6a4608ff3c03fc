"""pmemtrack-manage host list, pmem list and quota, run as an operator runs
them: the installed console script, a config file, the real database."""

import json

import pytest

from pmemtrack import objects
from pmemtrack.compute import api as compute_api
from tests.fixtures import hosts
from tests.functional.cmd import cli

SMALL = "CUSTOM_PMEM_NAMESPACE_SMALL"
LARGE = "CUSTOM_PMEM_NAMESPACE_LARGE"


def _devpath(instance):
    [resource] = instance.resources.objects
    return resource.metadata.devpath


@pytest.fixture
def two_hosts(ctx, tmp_path):
    managers = {
        name: hosts.make_host(tmp_path, name, {"SMALL": (2, 1), "LARGE": 1})
        for name in ("compute1", "compute2")
    }
    for manager in managers.values():
        manager.init_host(ctx)
    return managers


def _conf(tmp_path, db_engine, manager, **extra):
    sections = cli.host_sections(manager, cli.db_url(db_engine))
    sections.update(extra)
    return cli.write_conf(tmp_path / "cli.conf", sections)


def test_host_list(two_hosts, ctx, db_engine, tmp_path):
    conf = _conf(tmp_path, db_engine, two_hosts["compute1"])
    listed = cli.manage_json(conf, "host", "list")
    nodes = objects.ComputeNodeList.get_all(ctx)
    assert listed == [
        {
            "Host": node.host,
            "Node": node.hypervisor_hostname,
            "UUID": node.uuid,
            "Generation": node.generation,
            "Service version": 2,
            "Migration address": "127.0.0.1",
        }
        for node in nodes
    ]
    assert [row["Host"] for row in listed] == ["compute1", "compute2"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_host_list_as_table_and_values(backend, two_hosts, ctx, db_engine, tmp_path):
    conf = _conf(tmp_path, db_engine, two_hosts["compute1"])
    nodes = objects.ComputeNodeList.get_all(ctx)

    table = cli.manage(conf, "host", "list").stdout.splitlines()
    value = cli.manage(conf, "host", "list", "-f", "value").stdout.splitlines()

    assert table[1].split("|")[1:3] == [" Host     ", " Node     "]
    assert len(table) == 6 and table[0] == table[2] == table[-1]
    # Numbers are right-aligned, as OpenStack clients print them.
    assert f"|          {nodes[0].generation} |" in table[3]
    assert [line.split() for line in value] == [
        [n.host, n.hypervisor_hostname, n.uuid, str(n.generation), "2", "127.0.0.1"]
        for n in nodes
    ]


def _every_state(ctx, managers):
    """compute1: ns0 held, ns1 unavailable, ns2 free, ns3 moving (old side);
    compute2: ns0 dirty, ns1 orphaned, ns2 free, ns3 moving (new side)."""
    api = compute_api.ComputeAPI(managers)
    boot = lambda label, host: api.create(  # noqa: E731
        ctx, hosts.flavor(label), host, "project-a"
    )
    held, unavailable = boot("SMALL", "compute1"), boot("SMALL", "compute1")
    moving = boot("LARGE", "compute1")
    api.migrate(ctx, moving, "compute2")

    dirty, ghost = boot("SMALL", "compute2"), boot("SMALL", "compute2")
    devpath = _devpath(dirty)
    cli.break_device(devpath)
    api.delete(ctx, dirty)
    cli.repair_device(devpath)
    # The DB forgets the instance; its guest goes on running on compute2.
    cli.show_guest_to_other_processes(
        managers["compute2"], cli.domain_xml(managers["compute2"], ghost)
    )
    ghost.destroy()

    compute1 = managers["compute1"]
    compute1.conf.set_override(
        "namespaces", ["SMALL:compute1-ns0|compute1-ns2", "LARGE:compute1-ns3"], "pmem"
    )
    hosts.restart(compute1).update_available_resource(ctx)
    return held, unavailable, moving


def test_pmem_list_shows_every_state(two_hosts, ctx, db_engine, tmp_path):
    held, unavailable, moving = _every_state(ctx, two_hosts)
    # The CLI runs on compute2: it can ask compute2's hypervisor, not compute1's.
    conf = _conf(tmp_path, db_engine, two_hosts["compute2"])

    rows = cli.manage_json(conf, "pmem", "list")

    states = {
        (r["Host"], r["Name"]): (r["State"], r["Instance"], r["Role"]) for r in rows
    }
    assert states == {
        ("compute1", "compute1-ns0"): ("held", held.uuid, "instance"),
        ("compute1", "compute1-ns1"): ("unavailable", unavailable.uuid, "instance"),
        ("compute1", "compute1-ns2"): ("free", None, None),
        ("compute1", "compute1-ns3"): ("moving", moving.uuid, "old"),
        ("compute2", "compute2-ns0"): ("dirty", None, None),
        ("compute2", "compute2-ns1"): ("orphaned", None, None),
        ("compute2", "compute2-ns2"): ("free", None, None),
        ("compute2", "compute2-ns3"): ("moving", moving.uuid, "new"),
    }
    orphan = rows[5]
    assert orphan["Guest"].startswith("instance-")
    assert orphan["Device"].endswith("/compute2/simulated-pmem/dev/dax0.1")
    assert (orphan["Label"], orphan["Bytes"], orphan["Size"]) == (
        "SMALL",
        64 * hosts.MiB,
        "64MiB",
    )
    assert [r["NUMA node"] for r in rows[:4]] == [0, 0, 1, 0]


def test_pmem_list_of_one_host_as_values(two_hosts, ctx, db_engine, tmp_path):
    instance = hosts.new_instance(ctx, "LARGE")
    two_hosts["compute2"].build_and_run_instance(ctx, instance)
    conf = _conf(tmp_path, db_engine, two_hosts["compute1"])

    result = cli.manage(conf, "pmem", "list", "--host", "compute2", "-f", "value")

    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert [row[:2] for row in rows] == [
        ["compute2", f"compute2-ns{i}"] for i in range(4)
    ]
    assert all(len(row) == 11 for row in rows)
    assert rows[3][7:10] == ["held", instance.uuid, "instance"]
    # A missing value is "None", as OpenStack clients print it.
    assert rows[0][7:] == ["free", "None", "None", "None"]


def _limits(ctx, project):
    return {
        limit.resource_class: limit.hard_limit
        for limit in objects.QuotaLimitList.get_by_project(ctx, project)
    }


def test_quota_show_set_unset(two_hosts, ctx, db_engine, tmp_path):
    two_hosts["compute1"].build_and_run_instance(
        ctx, hosts.new_instance(ctx, "SMALL,SMALL", project_id="project-a")
    )
    quota = {"default_limit": 10, "class_limits": "CUSTOM_PMEM_NAMESPACE_HUGE:5"}
    conf = _conf(tmp_path, db_engine, two_hosts["compute1"], quota=quota)

    shown = cli.manage_json(conf, "quota", "show", "--project", "project-a")
    assert [
        (r["Resource class"], r["Limit"], r["Source"], r["Usage"]) for r in shown
    ] == [
        ("CUSTOM_PMEM_NAMESPACE_HUGE", 5, "class default", 0),
        (LARGE, 10, "default", 0),
        (SMALL, 10, "default", 2),
    ]

    set_args = ("quota", "set", "--project", "project-a", "--class", "small")
    limited = cli.manage_json(conf, *set_args, "--limit", "3")
    assert limited == {
        "Project": "project-a",
        "Resource class": SMALL,
        "Limit": 3,
        "Source": "override",
        "Usage": 2,
    }
    # Below what the project uses: set, with a warning that names the usage.
    below = cli.manage(conf, *set_args, "--limit", "1", "-f", "json")
    assert below.returncode == 0, below.stderr
    assert json.loads(below.stdout)["Limit"] == 1
    assert (
        f"WARNING: project project-a already uses 2 {SMALL}, more than the new "
        "limit of 1: nothing is taken away"
    ) in below.stderr
    assert cli.manage_json(conf, *set_args, "--limit", "-1")["Limit"] == -1
    assert _limits(ctx, "project-a") == {SMALL: -1}
    assert _limits(ctx, "project-b") == {}

    # Without --project: every project with an override or an instance.
    objects.QuotaLimit.set(ctx, "project-b", LARGE, 2)
    every = cli.manage_json(conf, "quota", "show")
    assert sorted({row["Project"] for row in every}) == ["project-a", "project-b"]
    assert [
        (r["Resource class"], r["Limit"], r["Source"], r["Usage"])
        for r in every
        if r["Project"] == "project-b"
    ] == [
        ("CUSTOM_PMEM_NAMESPACE_HUGE", 5, "class default", 0),
        (LARGE, 2, "override", 0),
        (SMALL, 10, "default", 0),
    ]
    objects.QuotaLimit.unset(ctx, "project-b", LARGE)

    unset_args = ("quota", "unset", "--project", "project-a", "--class", SMALL)
    restored = cli.manage_json(conf, *unset_args)
    assert (restored["Limit"], restored["Source"]) == (10, "default")
    assert _limits(ctx, "project-a") == {}


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    "args, fragment",
    [
        (("quota", "set", "--class", "bad-class!", "--limit", "1"), "'bad-class!'"),
        (("quota", "set", "--class", "CUSTOM_", "--limit", "1"), "'CUSTOM_'"),
        (
            ("quota", "set", "--class", "nope", "--limit", "1"),
            "'CUSTOM_PMEM_NAMESPACE_NOPE' is not valid: no compute node offers it",
        ),
        (("quota", "set", "--class", "small", "--limit", "-5"), "--limit '-5'"),
        (("quota", "set", "--class", "small", "--limit", "many"), "--limit 'many'"),
        (
            ("quota", "set", "--class", "small", "--limit", str(10**20)),
            "from 0 to 2147483647",
        ),
        (
            ("quota", "set", "--class", "small", "--limit", "1", "--project", " "),
            "is blank",
        ),
        (("quota", "unset", "--class", "medium"), "no quota override"),
        (("pmem", "list", "--host", "compute9"), "known hosts: compute1, compute2"),
    ],
)
def test_bad_input_gives_one_line_and_changes_nothing(
    backend, two_hosts, ctx, db_engine, tmp_path, args, fragment
):
    objects.QuotaLimit.set(ctx, "project-a", LARGE, 4)
    conf = _conf(tmp_path, db_engine, two_hosts["compute1"])
    if args[0] == "quota" and "--project" not in args:
        args += ("--project", "project-a")

    result = cli.manage(conf, *args)

    cli.assert_one_error_line(result, fragment)
    assert result.stdout == ""
    assert _limits(ctx, "project-a") == {LARGE: 4}


@pytest.mark.parametrize("backend", ["sqlite"])
def test_debug_logs_go_to_stderr_not_into_the_output(
    backend, two_hosts, db_engine, tmp_path
):
    conf = _conf(tmp_path, db_engine, two_hosts["compute1"])
    result = cli.manage(conf, "--debug", "pmem", "audit", "-f", "json")
    assert (result.returncode, result.stdout.strip()) == (0, "[]"), result.stderr
    assert " DEBUG " in result.stderr


def test_database_problems_give_one_line(tmp_path):
    missing = tmp_path / "none" / "pmemtrack.sqlite"
    conf = cli.write_conf(
        tmp_path / "missing.conf",
        {"database": {"connection": f"sqlite:///{missing}"}},
    )
    cli.assert_one_error_line(
        cli.manage(conf, "pmem", "list"), "does not exist: run 'pmemtrack-manage db"
    )
    assert not missing.exists()

    unreachable = cli.write_conf(
        tmp_path / "unreachable.conf",
        {
            "database": {
                "connection": "mysql+pymysql://nobody:secret@127.0.0.1:1/none",
                "max_retries": 0,
            }
        },
    )
    result = cli.manage(unreachable, "host", "list")
    cli.assert_one_error_line(result, "nobody:***@127.0.0.1:1/none")
    assert "secret" not in result.stderr

    bad = cli.write_conf(tmp_path / "bad.conf", {"quota": {"default_limit": "-7"}})
    cli.assert_one_error_line(
        cli.manage(bad, "quota", "show", "--project", "p"), "default_limit = '-7'"
    )


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_old_schema_is_refused_with_the_command_to_run(empty_database, tmp_path):
    conf = cli.write_conf(
        tmp_path / "old.conf", {"database": {"connection": empty_database.url}}
    )
    synced = cli.manage(conf, "db", "sync", "--revision", "0001")
    assert synced.returncode == 0, synced.stderr
    cli.assert_one_error_line(
        cli.manage(conf, "host", "list"),
        "has schema 0001, this release needs 0004: run 'pmemtrack-manage db sync'",
    )
