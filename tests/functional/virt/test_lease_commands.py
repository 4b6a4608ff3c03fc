"""The write lease's grant and revoke as commands for another host (run there
over SSH by the Nova adapter), with the real flock(1) and sh: the same rules
as the in-process grant and exclusive."""

import os
import signal
import subprocess
import time

from pmemtrack.virt.libvirt import lease


def _run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def test_a_granted_writer_writes_and_a_revoked_lease_refuses_it(tmp_path):
    path = str(tmp_path / "leases" / "dev%dax0.0")
    assert not lease.holds_token(path)
    assert _run(lease.grant_argv(path, "move-1")).returncode == 0
    assert lease.holds_token(path)
    assert _run(lease.writer_argv(path, "move-1", ["true"])).returncode == 0
    assert _run(lease.writer_argv(path, "move-2", ["true"])).returncode == 1

    wiped = _run(lease.revoke_argv(path, ["echo", "zeroed"]))
    assert (wiped.returncode, wiped.stdout) == (0, "zeroed\n")
    assert not lease.holds_token(path)
    refused = _run(lease.writer_argv(path, "move-1", ["echo", "wrote"]))
    assert refused.returncode == 1
    assert "refusing to write" in refused.stderr
    assert refused.stdout == ""


def test_revoke_fails_at_once_while_a_writer_runs_and_wipes_nothing(tmp_path):
    path = str(tmp_path / "lease")
    assert _run(lease.grant_argv(path, "move-1")).returncode == 0
    # Its own process group: flock(1) and the writer it runs both hold the lock.
    writer = subprocess.Popen(
        lease.writer_argv(path, "move-1", ["sleep", "30"]), start_new_session=True
    )
    try:
        time.sleep(0.5)
        started = time.monotonic()
        busy = _run(lease.revoke_argv(path, ["echo", "zeroed"]))
        assert busy.returncode == 1
        assert busy.stdout == ""
        assert time.monotonic() - started < 5
        # A grant to another move is refused too while the writer runs.
        assert _run(lease.grant_argv(path, "move-2")).returncode == 1
        assert lease.holds_token(path)
    finally:
        os.killpg(writer.pid, signal.SIGKILL)
        writer.wait()
    # Reaping the group's leader does not mean the rest of the group (which
    # holds the lock) has exited yet: the revoke succeeds once it has.
    deadline = time.monotonic() + 10
    revoked = _run(lease.revoke_argv(path, ["true"]))
    while revoked.returncode != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
        revoked = _run(lease.revoke_argv(path, ["true"]))
    assert revoked.returncode == 0
