"""pmemtrack-manage pmem audit on a simulated host: the DB, the devices and a
hypervisor the CLI process can see (libvirt's test driver node file)."""

import json

import pytest

from pmemtrack import objects
from pmemtrack.sandbox import simulated
from tests.fixtures import hosts
from tests.functional.cmd import cli


@pytest.fixture
def compute1(ctx, tmp_path):
    manager = hosts.make_host(tmp_path, "compute1", {"SMALL": 5, "LARGE": 1})
    manager.init_host(ctx)
    return manager


def _boot(ctx, manager, label):
    instance = hosts.new_instance(ctx, label)
    manager.build_and_run_instance(ctx, instance)
    return instance


def _devpath(instance):
    [resource] = instance.resources.objects
    return resource.metadata.devpath


def _forget_device(manager, name):
    root = manager.conf.pmem.simulated_path
    kept = [ns for ns in simulated.load_namespaces(root) if ns.get("name") != name]
    simulated.write_namespaces(root, kept)


def _snapshot(ctx, manager):
    node = objects.ComputeNode.get_by_host_and_nodename(ctx, "compute1", "compute1")
    rows = objects.HostResourceList.get_by_compute_node(ctx, node.id)
    uri = manager.conf.libvirt.connection_uri
    with open(uri[len("test://") :]) as f:
        return node.generation, [(r.identifier, r.state) for r in rows], f.read()


def test_a_host_in_step_with_the_db_is_clean(compute1, ctx, db_engine, tmp_path):
    instance = _boot(ctx, compute1, "SMALL")
    cli.show_guest_to_other_processes(compute1, cli.domain_xml(compute1, instance))
    conf = cli.write_conf(
        tmp_path / "cli.conf", cli.host_sections(compute1, cli.db_url(db_engine))
    )

    table = cli.manage(conf, "pmem", "audit")
    assert table.returncode == 0
    # The empty table's header, then the verdict.
    assert table.stdout.splitlines()[1] == "| Kind | Host | Namespace | Detail |"
    assert table.stdout.endswith("+\nNo drift found on compute1.\n")
    assert cli.manage_json(conf, "pmem", "audit") == []


def _drift(ctx, manager):
    """One finding of each kind, on namespaces ns0..ns5 in that order."""
    held = _boot(ctx, manager, "SMALL")  # ns0
    xml = cli.domain_xml(manager, held)
    cli.show_guest_to_other_processes(manager, xml)
    cli.show_guest_to_other_processes(manager, cli.renamed_guest(xml, "intruder"))

    ghost = _boot(ctx, manager, "SMALL")  # ns1
    cli.show_guest_to_other_processes(manager, cli.domain_xml(manager, ghost))
    ghost.destroy()

    _boot(ctx, manager, "SMALL")  # ns2, left out of the CLI's config below
    gone = _boot(ctx, manager, "SMALL")  # ns3
    _forget_device(manager, "compute1-ns3")
    _forget_device(manager, "compute1-ns4")

    dirty = _boot(ctx, manager, "LARGE")  # ns5
    cli.break_device(_devpath(dirty))
    manager.terminate_instance(ctx, dirty)
    cli.repair_device(_devpath(dirty))
    return held, ghost, gone


def test_every_kind_of_drift_is_reported_and_nothing_changed(
    compute1, ctx, db_engine, tmp_path
):
    held, ghost, gone = _drift(ctx, compute1)
    namespaces = [
        "SMALL:compute1-ns0|compute1-ns1|compute1-ns3|compute1-ns4",
        "LARGE:compute1-ns5",
    ]
    sections = cli.host_sections(compute1, cli.db_url(db_engine), namespaces)
    conf = cli.write_conf(tmp_path / "cli.conf", sections)
    before = _snapshot(ctx, compute1)

    findings = cli.manage_json(conf, "pmem", "audit", expect=1)

    assert [(f["Kind"], f["Host"], f["Namespace"]) for f in findings] == [
        ("wrong-guest", "compute1", "compute1-ns0"),
        ("orphan", "compute1", "compute1-ns1"),
        ("not-configured", "compute1", "compute1-ns2"),
        ("missing-device", "compute1", "compute1-ns3"),
        ("missing-device", "compute1", "compute1-ns4"),
        ("dirty", "compute1", "compute1-ns5"),
    ]
    details = [f["Detail"] for f in findings]
    assert "used by domain intruder" in details[0] and held.uuid in details[0]
    assert f"used by domain instance-{ghost.id:08x} ({ghost.uuid})" in details[1]
    assert "no live instance holds it" in details[1]
    assert "not listed in [pmem] namespaces" in details[2]
    assert f"held by instance {gone.uuid} (instance)" in details[3]
    assert "listed in [pmem] namespaces as SMALL" in details[4]
    assert "wipe failed" in details[5]
    assert _snapshot(ctx, compute1) == before

    values = cli.manage(conf, "pmem", "audit", "-f", "value")
    assert values.returncode == 1
    assert [line.split()[:3] for line in values.stdout.splitlines()] == [
        [f["Kind"], f["Host"], f["Namespace"]] for f in findings
    ]


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    "override, fragment",
    [
        ({"DEFAULT": {"host": "compute9"}}, "compute9 is not known; known hosts: comp"),
        (
            {"libvirt": {"connection_uri": "qemu+tcp://127.0.0.1:1/system"}},
            "Cannot reach the hypervisor at qemu+tcp://127.0.0.1:1/system",
        ),
        ({"pmem": {"namespaces": "SMALL:a|a"}}, "namespace a is already listed"),
    ],
)
def test_an_audit_that_cannot_run_says_why(
    backend, compute1, db_engine, tmp_path, override, fragment
):
    sections = cli.host_sections(compute1, cli.db_url(db_engine))
    for group, options in override.items():
        sections[group].update(options)
    conf = cli.write_conf(tmp_path / "cli.conf", sections)

    result = cli.manage(conf, "pmem", "audit", "-f", "json")

    cli.assert_one_error_line(result, fragment)
    assert result.stdout == ""


@pytest.mark.parametrize("backend", ["sqlite"])
def test_pmem_list_without_the_hypervisor_shows_the_db_view(
    backend, compute1, ctx, db_engine, tmp_path
):
    ghost = _boot(ctx, compute1, "SMALL")
    ghost.destroy()
    sections = cli.host_sections(compute1, cli.db_url(db_engine))
    sections["libvirt"]["connection_uri"] = "qemu+tcp://127.0.0.1:1/system"
    conf = cli.write_conf(tmp_path / "cli.conf", sections)

    result = cli.manage(conf, "pmem", "list", "-f", "json")

    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("WARNING: Cannot reach the hypervisor")
    assert {r["State"] for r in json.loads(result.stdout)} == {"free"}
