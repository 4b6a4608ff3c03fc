"""A move whose CLI process is killed mid-copy, found and rolled back by the
operator with the embedded default's own commands: pmemtrack migration list
and pmemtrack migration recover."""

import glob
import hashlib
import json
import os
import signal
import subprocess
import time

import pytest

from pmemtrack.sandbox import loopback_sshd
from tests.fixtures import sshd
from tests.functional.cmd import cli

MiB = 1024 * 1024
START_WITHIN = 60


def _sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _json(state, home, *args):
    result = cli.embedded(state, *args, "-f", "json", home=home)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _stop(pid):
    """SIGSTOP ``pid``; False if it already ended (a short-lived helper of
    the session, a shell or a flock, may end between listing and stopping)."""
    try:
        os.kill(pid, signal.SIGSTOP)
    except ProcessLookupError:
        return False
    return True


def _freeze_the_destination(process, state):
    """Wait for the copy's first writer at the destination (a daxio under the
    move's sshd), then stop every process serving that sshd: the destination
    hangs, and the copy with it. Their pids."""
    deadline = time.monotonic() + START_WITHIN
    while process.poll() is None and time.monotonic() < deadline:
        for pid_file in state.glob("sshd-*/sshd.pid"):
            text = pid_file.read_text().strip()
            sessions = loopback_sshd._descendants(int(text)) if text.isdigit() else []
            if any("daxio" in _cmdline(pid) for pid in sessions):
                return [pid for pid in sessions if _stop(pid)]
        time.sleep(0.005)
    return []


def _kill_mid_copy(state, home):
    argv = [cli.PMEMTRACK, "--state-dir", str(state), "server", "migrate", "vm1",
            "--host", "compute2", "--copy-pmem-devices"]  # fmt: skip
    move = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli.embedded_env(home),
    )
    frozen = _freeze_the_destination(move, state)
    move.kill()
    _, stderr = move.communicate()
    for pid in frozen:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    if not frozen:
        if cli.NO_SSHD.encode() in stderr:
            sshd.unavailable(stderr.decode().strip().splitlines()[-1])
        pytest.fail(f"the copy never reached the destination: {stderr!r}")


def test_a_move_killed_mid_copy_is_found_and_rolled_back(tmp_path):
    state = tmp_path / "state"
    [created] = [_json(state, tmp_path, "server", "create", "vm1", "--flavor",
                       "pmem.large", "--host", "compute1")]  # fmt: skip
    [(_, _, path)] = [entry.partition("@") for entry in [created["pmem"]]]
    with open(path, "r+b") as f:
        f.write(os.urandom(100 * MiB))
    before = _sha(path)

    _kill_mid_copy(state, tmp_path)

    [row] = _json(state, tmp_path, "migration", "list")
    assert (row["Status"], row["Task state"]) == ("migrating", "resize_migrating")
    busy = cli.embedded(state, "server", "stop", "vm1", home=tmp_path)
    cli.assert_one_error_line(busy, "is busy")
    young = cli.embedded(state, "migration", "recover", row["Migration"],
                         home=tmp_path)  # fmt: skip
    cli.assert_one_error_line(young, "--force")

    done = cli.embedded(state, "migration", "recover", row["Migration"], "--force",
                        "-f", "json", home=tmp_path)  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Status"] == "error"
    assert _json(state, tmp_path, "migration", "list") == []
    shown = _json(state, tmp_path, "server", "show", "vm1")
    assert (shown["host"], shown["vm_state"], shown["power_state"]) == (
        "compute1",
        "active",
        "running",
    )
    assert _sha(path) == before
    for device in glob.glob(str(state / "compute2" / "simulated-pmem" / "dev" / "*")):
        with open(device, "rb") as f:
            assert not f.read().strip(b"\0"), f"{device} was left with data"
    # The instance moves again, and its data goes with it.
    moved = _json(state, tmp_path, "server", "migrate", "vm1", "--host", "compute2",
                  "--copy-pmem-devices")  # fmt: skip
    [(_, _, new_path)] = [entry.partition("@") for entry in [moved["pmem"]]]
    assert _sha(new_path) == before
