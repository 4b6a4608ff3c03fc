"""The loopback sshd dies with the process that started it, even when that
process is killed with SIGKILL and never runs its atexit handlers or stop():
a crashed or killed CLI leaves no daemon behind."""

import json
import signal
import subprocess
import time

import pytest

from tests.fixtures import sshd
from tests.functional.cmd import cli

# What the kernel and sshd take to end an orphan, with room for a slow CI host.
GONE_WITHIN = 5
# How long a move's CLI may take to start its sshd.
START_WITHIN = 60


def test_sshd_dies_with_its_killed_parent(tmp_path):
    directory = tmp_path / "sshd"

    with sshd.server_in_child(directory) as (child, sshd_pid):
        assert sshd.running(sshd_pid, str(directory))
        child.send_signal(signal.SIGKILL)
        child.wait()

        assert sshd.wait_gone(sshd_pid, str(directory), GONE_WITHIN)


def _started_sshd(process, state):
    """(pid, directory) of the sshd the CLI ``process`` started under
    ``state``, once it listens; None if the process ended first."""
    deadline = time.monotonic() + START_WITHIN
    while process.poll() is None and time.monotonic() < deadline:
        for pid_file in state.glob("sshd-*/sshd.pid"):
            text = pid_file.read_text().strip()
            # sshd writes its pid file once it listens.
            if text.isdigit():
                return int(text), str(pid_file.parent)
        time.sleep(0.01)
    return None


def test_a_killed_move_leaves_no_sshd(tmp_path):
    state = tmp_path / "state"
    created = cli.embedded(
        state, "server", "create", "vm1", "--flavor", "pmem.medium", home=tmp_path
    )
    assert created.returncode == 0, created.stderr
    move_args = ("server", "migrate", "vm1", "--copy-pmem-devices", "-f", "json")
    move = subprocess.Popen(
        [cli.PMEMTRACK, "--state-dir", str(state), *move_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.embedded_env(tmp_path),
    )
    try:
        started = _started_sshd(move, state)
        # Killed while it still runs: its sshd is up and the move goes on.
        if started is not None and move.poll() is None:
            move.kill()
    finally:
        move.kill()
        stdout, stderr = move.communicate()
    if started is None:
        if cli.NO_SSHD in stderr:
            sshd.unavailable(stderr.strip().splitlines()[-1])
        pytest.fail(f"no sshd started: {stdout} {stderr}")
    sshd_pid, directory = started
    try:
        assert move.returncode == -signal.SIGKILL, (stdout, stderr)
        assert sshd.wait_gone(sshd_pid, directory, GONE_WITHIN)
    finally:
        sshd.kill(sshd_pid, directory)
    # The instance is still there for the next command, whatever the move did.
    listed = cli.embedded(state, "server", "list", "-f", "json", home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [row["name"] for row in json.loads(listed.stdout)] == ["vm1"]
