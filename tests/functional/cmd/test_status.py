"""pmemtrack-status upgrade check as a deployment tool runs it: the console
script, a config file, a real database; the exit code carries the verdict."""

import json
import os
import subprocess

import pytest
from sqlalchemy.engine import url as sa_url

from pmemtrack.sandbox import simulated
from tests.fixtures import databases
from tests.functional.cmd import cli

MiB = 1024 * 1024

SUCCESS, WARNING, FAILURE = 0, 1, 2
CHECKS = (
    "Configuration values",
    "Database schema",
    "PMEM namespaces",
    "PMEM backend",
    "Migration SSH files",
)


def _world(tmp_path):
    """This host's devices (simulated files listed by the ndctl stand-in):
    ns0, ns1, ns2 in devdax mode and fs0 in fsdax mode."""
    root = str(tmp_path / "pmem")
    simulated.ensure_root(root)
    for name in ("ns0", "ns1", "ns2"):
        simulated.create_namespace(root, name, 16 * MiB)
    simulated.create_namespace(root, "fs0", 16 * MiB, mode="fsdax")
    return root


def _conf(tmp_path, url, **overrides):
    """A host ready for the upgrade, but for ``overrides`` ({group: options}).
    With the real backend the tools run in pmemtrack's privsep daemon, started
    without sudo: that needs root (CI runs as root)."""
    key, known_hosts = tmp_path / "id_ed25519", tmp_path / "known_hosts"
    key.write_text("not checked beyond existing\n")
    known_hosts.write_text("")
    path = tmp_path / "status.conf"
    if overrides.get("pmem", {}).get("backend") != "simulated" and os.geteuid():
        databases.unavailable("privsep", "the privsep daemon needs root")
    helper = f"{os.path.join(cli.BINDIR, 'privsep-helper')} --config-file {path}"
    sections = {
        "pmemtrack_pmem_admin": {"helper_command": helper},
        "DEFAULT": {"state_path": tmp_path / "state"},
        "database": {"connection": url, "max_retries": 0},
        "pmem": {
            "backend": "ndctl",
            "namespaces": "SMALL:ns0|ns1,LARGE:ns2",
            "ndctl_path": os.path.join(cli.BINDIR, "pmemtrack-sim-ndctl"),
            "daxctl_path": os.path.join(cli.BINDIR, "pmemtrack-sim-daxctl"),
        },
        "migration": {"ssh_key_file": key, "known_hosts_file": known_hosts},
    }
    for group, options in overrides.items():
        sections.setdefault(group, {}).update(options)
    return cli.write_conf(path, sections)


def _check(conf, *args):
    root = conf.parent / "pmem"
    if not root.exists():
        _world(conf.parent)
    # The ndctl and daxctl stand-ins list the world this names.
    env = {**os.environ, simulated.ENV_VAR: str(root)}
    return subprocess.run(
        [cli.STATUS, "--config-file", str(conf), "upgrade", "check", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def _results(conf):
    """(exit code, {check: (result, details)}) of a --json run."""
    result = _check(conf, "--json")
    assert result.stderr == "", result.stderr
    checks = json.loads(result.stdout)["checks"]
    return result.returncode, {c["check"]: (c["result"], c["details"]) for c in checks}


def _only(results, expected):
    """Every check succeeded but those in ``expected`` ({check: code})."""
    return {name: code for name, (code, _) in results.items()} == {
        name: expected.get(name, SUCCESS) for name in CHECKS
    }


def test_a_ready_host_passes_every_check(db_engine, tmp_path):
    conf = _conf(tmp_path, cli.db_url(db_engine))

    code, results = _results(conf)

    assert code == SUCCESS and _only(results, {})
    assert results["PMEM namespaces"][1] == (
        "3 namespaces found, in devdax mode, labels LARGE, SMALL."
    )
    assert _check(conf, "-f", "json").stdout == _check(conf, "--json").stdout
    table = _check(conf)
    assert table.returncode == SUCCESS
    assert table.stdout.count("Result: Success") == len(CHECKS)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_what_works_but_should_not_be_left_so_warns(backend, db_engine, tmp_path):
    conf = _conf(
        tmp_path,
        cli.db_url(db_engine),
        pmem={"backend": "simulated", "namespaces": ""},
        migration={
            "host_key_policy": "auto-add",
            "known_hosts_file": "/nonexistent/known_hosts",
        },
    )

    code, results = _results(conf)

    assert code == WARNING
    assert _only(
        results,
        {
            "PMEM namespaces": WARNING,
            "PMEM backend": WARNING,
            "Migration SSH files": WARNING,
        },
    )
    assert "offers no PMEM namespaces" in results["PMEM namespaces"][1]
    assert "Not for production" in results["PMEM backend"][1]
    assert "host_key_policy is 'auto-add'" in results["Migration SSH files"][1]


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    "overrides, check, fragment",
    [
        (
            {"pmem": {"namespaces": "SMALL:ns0|ns1,BAD ENTRY"}},
            "PMEM namespaces",
            "entry 'BAD ENTRY' is malformed",
        ),
        (
            {"pmem": {"namespaces": "SMALL:ns0,LARGE:ns0"}},
            "PMEM namespaces",
            "'LARGE:ns0' cannot be used: namespace ns0 is already listed",
        ),
        (
            {"pmem": {"namespaces": "SMALL:ns0,LARGE:nope"}},
            "PMEM namespaces",
            "no namespace or dax device named nope was discovered",
        ),
        (
            {"pmem": {"namespaces": "SMALL:ns0,LARGE:fs0"}},
            "PMEM namespaces",
            "namespace fs0 is in fsdax mode",
        ),
        (
            {"quota": {"default_limit": "-7"}},
            "Configuration values",
            "[quota] default_limit = '-7'",
        ),
    ],
)
def test_a_failure_names_what_to_fix(
    backend, db_engine, tmp_path, overrides, check, fragment
):
    conf = _conf(tmp_path, cli.db_url(db_engine), **overrides)

    code, results = _results(conf)

    assert code == FAILURE and _only(results, {check: FAILURE})
    assert fragment in results[check][1]


def test_a_database_behind_the_code_fails_with_the_command_to_run(
    empty_database, tmp_path
):
    conf = _conf(tmp_path, empty_database.url)
    if empty_database.backend == "sqlite":
        # An empty file is an empty database; a missing one is checked below.
        open(sa_url.make_url(empty_database.url).database, "w").close()
    schema = {}
    for revision in (None, "0001", "head"):
        if revision:
            synced = cli.manage(conf, "db", "sync", "--revision", revision)
            assert synced.returncode == 0, synced.stderr
        code, results = _results(conf)
        schema[revision] = (code, results["Database schema"])

    hint = "this release needs 0004: run 'pmemtrack-manage db sync'."
    assert schema[None] == (FAILURE, (FAILURE, _details(empty_database, "empty", hint)))
    assert schema["0001"] == (
        FAILURE,
        (FAILURE, _details(empty_database, "0001", hint)),
    )
    assert schema["head"] == (SUCCESS, (SUCCESS, None))


def _details(database, revision, hint):
    url = sa_url.make_url(database.url).render_as_string(hide_password=True)
    return f"Database {url} has schema {revision}; {hint}"


def test_a_database_that_cannot_be_read_fails_without_a_trace(tmp_path):
    missing = tmp_path / "none" / "pmemtrack.sqlite"
    code, results = _results(_conf(tmp_path, f"sqlite:///{missing}"))
    assert code == FAILURE and _only(results, {"Database schema": FAILURE})
    assert (
        "does not exist: run 'pmemtrack-manage db sync'"
        in (results["Database schema"][1])
    )
    assert not missing.parent.exists()

    url = "mysql+pymysql://nobody:secret@127.0.0.1:1/none"
    code, results = _results(_conf(tmp_path, url))
    assert code == FAILURE
    details = results["Database schema"][1]
    assert "nobody:***@127.0.0.1:1/none" in details and "secret" not in details


def test_an_unreadable_config_file_is_one_error_line(tmp_path):
    conf = tmp_path / "broken.conf"
    conf.write_text("[DEFAULT\nhost = compute1\n")
    result = _check(conf)
    cli.assert_one_error_line(result, "broken.conf", code=FAILURE)
    assert result.stdout == ""


def test_a_missing_config_file_or_format_is_one_error_line_and_a_failure(tmp_path):
    result = _check(tmp_path / "absent.conf")
    cli.assert_one_error_line(result, "absent.conf", code=FAILURE)
    conf = _conf(tmp_path, f"sqlite:///{tmp_path / 'x.sqlite'}")
    result = _check(conf, "-f", "yaml")
    cli.assert_one_error_line(result, "-f yaml", code=FAILURE)
