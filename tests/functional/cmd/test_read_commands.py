"""Commands that only read never write: a listing leaves every row of the
database as it was (no inventory re-reported, no generation bumped). The
inventory is reported by commands that change something and by an explicit
``pmemtrack-manage host sync``."""

import sqlite3
import subprocess

import pytest

from pmemtrack import objects
from pmemtrack.sandbox import embedded
from tests.fixtures import hosts
from tests.functional.cmd import cli


def _rows(db_path):
    """Every row of every table, to compare before and after."""
    with sqlite3.connect(db_path) as db:
        tables = [
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type='table'"
            )
        ]
        return {
            t: sorted(map(repr, db.execute(f'SELECT * FROM "{t}"'))) for t in tables
        }


@pytest.mark.parametrize("backend", ["sqlite"])
def test_listing_servers_and_migrations_changes_no_row(backend, tmp_path):
    state = str(tmp_path / "state")
    created = cli.embedded(
        state, "server", "create", "vm1", "--flavor", "pmem.medium", "--host",
        "compute1", home=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    before = _rows(f"{state}/{embedded.DB_FILE}")

    for command in (
        ["server", "list"],
        ["server", "list", "--host", "compute2", "-f", "json"],
        ["server", "show", "vm1"],
        ["migration", "list"],
    ):
        done = cli.embedded(state, *command, home=tmp_path)
        assert done.returncode == 0, (command, done.stderr)

    assert _rows(f"{state}/{embedded.DB_FILE}") == before
    assert before["compute_nodes"], "the create reported the inventory"


def test_host_sync_reports_the_inventory_of_the_configured_host(
    ctx, db_engine, tmp_path
):
    manager = hosts.make_host(tmp_path, "compute1", {"SMALL": 2})
    conf = cli.write_conf(
        tmp_path / "cli.conf", cli.host_sections(manager, cli.db_url(db_engine))
    )
    first = cli.manage(conf, "host", "sync")
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    assert first.stdout == "compute1 (compute1): inventory reported; 2 added\n"
    (node,) = objects.ComputeNodeList.get_all(ctx)

    again = cli.manage(conf, "host", "sync")
    assert again.stdout == "compute1 (compute1): inventory reported; no change\n"
    (synced,) = objects.ComputeNodeList.get_all(ctx)
    assert synced.generation == node.generation + 1


def test_an_empty_listing_prints_its_header(ctx, db_engine, tmp_path):
    manager = hosts.make_host(tmp_path, "compute1", {"SMALL": 1})
    conf = cli.write_conf(
        tmp_path / "cli.conf", cli.host_sections(manager, cli.db_url(db_engine))
    )
    listed = cli.manage(conf, "migration", "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 4 and lines[0] == lines[2] == lines[3]
    assert lines[1].startswith("| ") and "Status" in lines[1]
    assert cli.manage(conf, "migration", "list", "-f", "value").stdout == ""
    assert cli.manage(conf, "migration", "list", "-f", "json").stdout.strip() == "[]"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_client_on_an_older_schema_stops_before_writing(backend, tmp_path):
    db = tmp_path / "old.sqlite"
    url = f"sqlite:///{db}"
    synced = subprocess.run(
        [cli.MANAGE, "--config-file", str(cli.write_conf(
            tmp_path / "sync.conf", {"database": {"connection": url}}
        )), "db", "sync", "--revision", "0001"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert synced.returncode == 0, synced.stderr
    manager = hosts.make_host(tmp_path, "compute1", {"SMALL": 1})
    conf = cli.write_conf(tmp_path / "cli.conf", cli.host_sections(manager, url))
    before = _rows(str(db))

    created = cli.run(
        cli.PMEMTRACK, conf, "server", "create", "vm1", "--flavor", "pmem.medium"
    )

    cli.assert_one_error_line(
        created,
        "has schema 0001, this release needs 0004: run 'pmemtrack-manage db sync'",
    )
    assert _rows(str(db)) == before


@pytest.mark.parametrize("backend", ["sqlite"])
def test_listings_take_the_openstack_client_formats(backend, ctx, db_engine, tmp_path):
    manager = hosts.make_host(tmp_path, "compute1", {"SMALL": 2})
    conf = cli.write_conf(
        tmp_path / "cli.conf", cli.host_sections(manager, cli.db_url(db_engine))
    )
    assert cli.manage(conf, "host", "sync").returncode == 0
    [node] = objects.ComputeNodeList.get_all(ctx)

    def listed(*args):
        result = cli.manage(conf, "host", "list", *args)
        assert (result.returncode, result.stderr) == (0, ""), result.stderr
        return result.stdout

    assert listed("-f", "value", "-c", "Host", "-c", "Generation") == (
        f"compute1 {node.generation}\n"
    )
    assert listed("-f", "csv", "-c", "Host", "-c", "UUID") == (
        f'"Host","UUID"\n"compute1","{node.uuid}"\n'
    )
    assert "  Host: compute1\n  Migration address: compute1\n" in listed("-f", "yaml")
    # --fit-width fits a terminal; with stdout a pipe, --max-width says how wide.
    narrow = cli.manage(conf, "host", "list", "--max-width", "60")

    def width(text):
        return max(map(len, text.splitlines()))

    # Long cells wrap (the UUID); headers do not, so it stays above 60.
    assert width(narrow.stdout) < width(listed())
    helped = cli.manage(conf, "help", "flavor", "create")
    assert helped.returncode == 0 and "--property KEY=VALUE" in helped.stdout
    unknown = cli.manage(conf, "host", "list", "-c", "Nope")
    assert unknown.returncode != 0 and "Nope" in unknown.stderr
