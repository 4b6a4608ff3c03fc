"""The standalone service runs ndctl, daxctl and daxio only in its privsep
daemon (``pmemtrack.privsep.pmem.pmem_admin``), started with privsep-helper: the
tools are children of the daemon, never of the service, and their failures
still name the command, its exit code and its stderr. The daemon needs root
(CI runs as root); the scenario runs in its own interpreter."""

import json
import os
import subprocess
import sys

from tests.fixtures import databases

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))  # fmt: skip


def _scenario(tmp_path):
    if os.geteuid() != 0:
        databases.unavailable("privsep", "the privsep daemon needs root")
    done = subprocess.run(
        [sys.executable, "-m", "tests.functional.virt.privsep_tools_scenario",
         str(tmp_path)],
        cwd=TOP, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-5000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_tools_run_in_the_privsep_daemon_not_in_the_service(tmp_path):
    seen = _scenario(tmp_path)

    assert [ns["name"] for ns in seen["listing"]] == ["ns0"]
    assert seen["zeroed"]
    assert seen["tool_parent"]["ppid"] != seen["service_pid"]
    assert seen["failure"]["type"] == "CommandFailed"
    assert "ndctl-failing list -X -v" in seen["failure"]["message"]
    assert "exit code 3" in seen["failure"]["message"]
    assert "no such bus" in seen["failure"]["message"]
