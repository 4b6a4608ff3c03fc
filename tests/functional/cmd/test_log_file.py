"""The log as an audit trail: with --log-file (or --log-dir) every claim and
wipe is a line there, so an operator can answer "who had this namespace, and
was it wiped"; the terminal keeps only the command's output. --debug without
a file shows the detail on stderr."""

import json
import re

import pytest

from tests.functional.cmd import cli


def _create_and_delete(state, tmp_path, *log_args):
    created = cli.embedded(
        state, *log_args, "server", "create", "vm1", "--flavor", "pmem.medium",
        "--host", "compute1", "-f", "json", home=tmp_path,
    )  # fmt: skip
    assert (created.returncode, created.stderr) == (0, ""), created.stderr
    instance = json.loads(created.stdout)
    deleted = cli.embedded(state, *log_args, "server", "delete", "vm1", home=tmp_path)
    assert (deleted.returncode, deleted.stderr) == (0, ""), deleted.stderr
    return instance["id"]


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("where", ["--log-file", "--log-dir"])
def test_claims_and_wipes_are_in_the_log_file(backend, where, tmp_path):
    state = str(tmp_path / "state")
    logs = tmp_path / "logs"
    logs.mkdir()
    target = logs / "pmemtrack.log" if where == "--log-file" else logs
    uuid = _create_and_delete(state, tmp_path, where, str(target))

    (log,) = logs.iterdir()
    text = log.read_text()
    claimed = re.search(
        rf"INFO \S+ \[.*\] Claimed (\S+) for instance {uuid} \(project demo\) "
        r"on compute1/compute1 after \d+ retries",
        text,
    )
    assert claimed, text
    name = claimed.group(1)
    assert re.search(rf"INFO \S+ \[.*\] Wiped namespace {name} \(.*\): \d+ bytes", text)
    assert f"Deleted instance {uuid}" in text
    # Every lifecycle transition, with where the instance was and went.
    assert f"Instance {uuid}: delete started (active on compute1)" in text
    assert f"Instance {uuid}: delete done (active on compute1, now deleted" in text


@pytest.mark.parametrize("backend", ["sqlite"])
def test_debug_without_a_log_file_goes_to_stderr(backend, tmp_path):
    state = str(tmp_path / "state")
    done = cli.embedded(
        state, "--debug", "server", "create", "vm1", "--flavor", "pmem.medium",
        "--host", "compute1", "-f", "json", home=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert " DEBUG " in done.stderr
    assert " Claimed " in done.stderr
    assert json.loads(done.stdout)["name"] == "vm1"
