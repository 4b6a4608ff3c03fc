"""The embedded default's files are private whatever the umask: every
directory pmemtrack creates is 0700; the DB, the simulated devices (guest
data) and SSH private keys are 0600. The console scripts run as processes
under umask 022, as from an operator's shell."""

import json
import os
import sqlite3
import stat
import subprocess

from tests.fixtures import sshd
from tests.functional.cmd import cli

DB = "pmemtrack.sqlite"
HOSTS = ("compute1", "compute2")
# Namespaces per simulated host (pmemtrack.sandbox.embedded.EMBEDDED_LAYOUT): one device each.
DEVICES_PER_HOST = 6
# Files that hold neither guest data nor secrets, in 0700 directories: the
# simulated namespace list is 0644 on purpose (see simulated._write_list).
NOT_SECRET = {"node.xml", "ndctl.json", "daxctl.json", ".lock"}


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def tree(top):
    """(directories, files) under ``top``, ``top`` included, as paths."""
    dirs, files = [str(top)], []
    for root, dirnames, filenames in os.walk(top):
        dirs.extend(os.path.join(root, name) for name in dirnames)
        files.extend(os.path.join(root, name) for name in filenames)
    return dirs, files


def assert_private_tree(top, not_secret=NOT_SECRET):
    """Every directory under ``top`` is 0700; every file 0600 unless it is
    known to hold no secret."""
    dirs, files = tree(top)
    assert {d: oct(mode(d)) for d in dirs if mode(d) != 0o700} == {}
    loose = {
        f: oct(mode(f))
        for f in files
        if mode(f) != 0o600 and os.path.basename(f) not in not_secret
    }
    assert loose == {}
    return dirs, files


def server_json(state, home, *args):
    result = cli.embedded(state, "server", *args, "-f", "json", home=home)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    return json.loads(result.stdout)


def device_files(files):
    return [f for f in files if os.path.basename(os.path.dirname(f)) == "dev"]


def test_a_fresh_state_dir_is_private_under_umask_022(tmp_path):
    # Two missing levels: the parent pmemtrack creates is its too.
    top = tmp_path / "xdg"
    state = top / "pmemtrack"

    created = server_json(state, tmp_path, "create", "vm1", "--flavor", "pmem.medium")

    dirs, files = assert_private_tree(top)
    assert os.path.join(state, DB) in files
    assert {os.path.join(state, host) for host in HOSTS} <= set(dirs)
    devices = device_files(files)
    assert len(devices) == len(HOSTS) * DEVICES_PER_HOST
    guest_device = created["pmem"].split("@", 1)[1]
    assert guest_device in devices
    assert {mode(d) for d in devices} == {0o600}


def test_an_older_state_dir_is_made_private(tmp_path):
    state = tmp_path / "state"
    server_json(state, tmp_path, "create", "vm1", "--flavor", "pmem.medium")
    # What an older release left under umask 022.
    for path in (state, *(state / host for host in HOSTS)):
        os.chmod(path, 0o755)
    os.chmod(state / DB, 0o644)
    # A connection held open keeps the WAL and its index on disk, created
    # with the database's mode as SQLite does.
    keeper = sqlite3.connect(state / DB)
    try:
        keeper.execute("SELECT count(*) FROM sqlite_master").fetchall()
        side_files = [state / (DB + "-wal"), state / (DB + "-shm")]
        assert [oct(mode(f)) for f in side_files] == ["0o644", "0o644"]

        result = cli.embedded(state, "server", "list", "-f", "json", home=tmp_path)

        assert [oct(mode(f)) for f in side_files] == ["0o600", "0o600"]
    finally:
        keeper.close()
    assert result.returncode == 0, result.stderr
    [warning] = result.stderr.splitlines()
    assert f"State directory {state} was open to other users (mode 0755)" in warning
    assert "made 0700" in warning
    assert_private_tree(state)
    again = cli.embedded(state, "server", "list", "-f", "json", home=tmp_path)
    assert (again.returncode, again.stderr) == (0, "")


def test_a_shared_directory_keeps_its_mode_but_not_the_guests_data(tmp_path):
    # --state-dir pointed at a directory that holds others' files (~, /tmp):
    # locking it up would break them; what pmemtrack keeps there is private.
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "notes.txt").write_text("not pmemtrack's\n")
    os.chmod(shared, 0o755)

    result = cli.embedded(
        shared, "server", "create", "vm1", "--flavor", "pmem.medium", home=tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert "holds files that are not pmemtrack's" in result.stderr
    assert mode(shared) == 0o755
    assert mode(shared / DB) == 0o600
    for host in HOSTS:
        assert_private_tree(shared / host)


def test_db_sync_creates_a_private_database(tmp_path):
    state_path = tmp_path / "srv" / "pmemtrack"
    conf = cli.write_conf(
        tmp_path / "pmemtrack.conf", {"DEFAULT": {"state_path": state_path}}
    )

    result = subprocess.run(
        cli.under_umask([cli.MANAGE, "--config-file", conf, "db", "sync"], 0o022),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert_private_tree(tmp_path / "srv")
    assert mode(state_path / DB) == 0o600


def test_loopback_sshd_keys_are_private_under_umask_022(tmp_path):
    directory = tmp_path / "sshd"

    with sshd.server_in_child(directory, umask=0o022):
        _dirs, files = tree(directory)
        keys = [f for f in files if f.endswith("_key")]
        assert len(keys) == 2
        assert mode(directory) == 0o700
        assert {mode(key) for key in keys} == {0o600}
