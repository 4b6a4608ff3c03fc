"""pmemtrack demo and pmemtrack server, run as an operator runs them: the
installed console script, no config file, the embedded default (SQLite, two
simulated hosts, libvirt's test driver, a loopback sshd) under a state dir."""

import json
import os
import random
import shutil
import signal
import subprocess

import pytest

from tests.fixtures import databases
from tests.functional.cmd import cli

PMEMTRACK = shutil.which("pmemtrack", path=cli.BINDIR)
MiB = 1024 * 1024
MEDIUM_SIZE, LARGE_SIZE = 64 * MiB, 128 * MiB
# What the embedded default logs when it cannot run its loopback sshd.
NO_SSHD = "No loopback sshd"
DEMO_STEPS = 8


def _own_processes_naming(directory):
    """Pids of live processes whose command line names ``directory``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(directory) in cmdline:
            found.append(int(entry))
    return found


def _stop_leaked_sshds(root):
    """Stop each sshd a pmemtrack run under ``root`` left running: the one
    whose pid file is in its sshd-* directory and whose command line names it."""
    for pid_file in root.glob("**/sshd-*/sshd.pid"):
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            continue
        if pid in _own_processes_naming(pid_file.parent):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


@pytest.fixture
def state_dir(tmp_path):
    """A fresh state dir; the processes its commands leave are stopped after."""
    state = tmp_path / "state"
    yield state
    _stop_leaked_sshds(tmp_path)


def _env(tmp_path):
    env = dict(os.environ)
    env.pop("PMEMTRACK_STATE_DIR", None)
    # No ~/pmemtrack.conf of the machine's user is read; the demo's fresh
    # state directory (mkdtemp) lands in the test's own directory.
    env["HOME"] = str(tmp_path)
    env["TMPDIR"] = str(tmp_path)
    return env


def pmemtrack(state, *args):
    """``pmemtrack --state-dir STATE ARGS...`` as a process; skipped (failed
    when PMEMTRACK_REQUIRE_BACKENDS asks for sshd) where sshd cannot run."""
    result = subprocess.run(
        [PMEMTRACK, "--state-dir", str(state), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(state.parent),
    )
    if NO_SSHD in result.stderr:
        databases.unavailable("sshd", result.stderr.strip().splitlines()[-1])
    return result


def server_json(state, *args, quiet=True):
    """The JSON a ``pmemtrack server`` command printed; it must have worked.
    ``quiet``: nothing on stderr (moves draw a progress bar there)."""
    result = pmemtrack(state, "server", *args, "-f", "json")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    if quiet:
        assert result.stderr == ""
    return json.loads(result.stdout)


def devices(row):
    """The ``pmem`` column, ``LABEL:name@/path, ...``, as (label, name, path)."""
    found = []
    for entry in row["pmem"].split(", ") if row["pmem"] else []:
        label, _, rest = entry.partition(":")
        name, _, path = rest.partition("@")
        found.append((label, name, path))
    return found


def one_device(row, label, host, state, size):
    [(found_label, name, path)] = devices(row)
    assert (found_label, name.split("-")[0]) == (label, host)
    assert path.startswith(f"{state}/{host}/")
    assert os.path.getsize(path) == size
    return path


def _read(path, offset, length):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def _write(path, offset, data):
    """What the guest does: write into its namespace in place."""
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def is_zeroed(path):
    zeros = bytes(MiB)
    with open(path, "rb") as f:
        while chunk := f.read(MiB):
            if chunk != zeros[: len(chunk)]:
                return False
    return True


class GuestData:
    """A known pattern at the start of a namespace, a marker at its end."""

    def __init__(self, seed, size):
        rng = random.Random(seed)
        self.head = rng.randbytes(MiB)
        self.tail = rng.randbytes(4096)
        self.tail_offset = size - len(self.tail)

    def write(self, path):
        _write(path, 0, self.head)
        _write(path, self.tail_offset, self.tail)

    def found_in(self, path):
        return (
            _read(path, 0, len(self.head)) == self.head
            and _read(path, self.tail_offset, len(self.tail)) == self.tail
        )


def _state(row):
    return row["host"], row["vm_state"], row["power_state"], row["flavor"]


# -- the demo -----------------------------------------------------------------


def _demo_dirs(state_dir):
    return sorted(state_dir.parent.glob("pmemtrack-demo-*"))


def test_demo_as_json_and_as_a_table(state_dir):
    result = pmemtrack(state_dir, "demo", "-f", "json")
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    story = json.loads(result.stdout)
    failed = [step for step in story["steps"] if not step["ok"]]
    assert (story["ok"], failed, story["kept"]) == (True, [], False)
    assert len(story["steps"]) == DEMO_STEPS
    [burst] = [step for step in story["steps"] if "burst" in step["name"]]
    assert burst["double_assignments"] == 0
    assert burst["claimed"] > 0 and "errors" not in burst
    assert f"{story['state_dir']} removed" in result.stderr
    assert _demo_dirs(state_dir) == []

    result = pmemtrack(state_dir, "demo")
    assert result.returncode == 0, (result.stdout, result.stderr)
    lines = result.stdout.splitlines()
    assert "All checks passed." in lines
    assert len([line for line in lines if line.endswith(" [ok]")]) == DEMO_STEPS
    # Human text: no Python reprs, a node named by its host alone.
    for machine_text in ("True", "False", "{", "compute1/compute1", "None"):
        assert machine_text not in result.stdout, machine_text
    [match] = [line.strip() for line in lines if "match" in line.lower()]
    assert match.startswith("match: sha256 ")
    assert lines[0].startswith("pmemtrack demo: two simulated compute hosts under ")
    assert lines[-1].endswith("removed (--keep keeps it).")
    assert "FAILED" not in result.stdout
    assert "Traceback" not in result.stderr
    assert _demo_dirs(state_dir) == []


def test_demo_as_values_keeps_its_state_when_asked(state_dir):
    result = pmemtrack(state_dir, "demo", "-f", "value", "--keep")

    assert result.returncode == 0, (result.stdout, result.stderr)
    rows = [line.split(" ", 2) for line in result.stdout.splitlines()]
    assert len(rows) == DEMO_STEPS
    assert all(mark == "ok" and float(seconds) >= 0 for mark, seconds, _ in rows)
    [kept] = _demo_dirs(state_dir)
    assert f"State directory {kept} kept." in result.stderr
    assert (kept / "pmemtrack.sqlite").exists()


# -- the operator's story -----------------------------------------------------


def test_resize_revert_confirm_and_lifecycle_keep_the_data(state_dir):
    created = server_json(
        state_dir, "create", "vm1", "--flavor", "pmem.medium", "--host", "compute1"
    )
    assert created["name"] == "vm1"
    assert _state(created) == ("compute1", "active", "running", "pmem.medium")
    source = one_device(created, "MEDIUM", "compute1", state_dir, MEDIUM_SIZE)
    data = GuestData("vm1", MEDIUM_SIZE)
    data.write(source)

    move = ("resize", "vm1", "--flavor", "pmem.large", "--host", "compute2")
    resized = server_json(state_dir, *move, "--copy-pmem-devices", quiet=False)
    assert resized["id"] == created["id"]
    assert _state(resized) == ("compute2", "resized", "running", "pmem.large")
    dest = one_device(resized, "LARGE", "compute2", state_dir, LARGE_SIZE)
    assert data.found_in(dest)

    reverted = server_json(state_dir, "revert", "vm1")
    assert reverted == created
    assert data.found_in(source)
    assert is_zeroed(dest)

    resized = server_json(state_dir, *move, "--copy-pmem-devices", quiet=False)
    assert _state(resized) == ("compute2", "resized", "running", "pmem.large")
    dest = one_device(resized, "LARGE", "compute2", state_dir, LARGE_SIZE)
    confirmed = server_json(state_dir, "confirm", "vm1")
    assert _state(confirmed) == ("compute2", "active", "running", "pmem.large")
    assert confirmed["pmem"] == resized["pmem"]
    assert data.found_in(dest)
    assert is_zeroed(source)

    for args, power in (
        (("reboot", "--hard"), ("active", "running")),
        (("stop",), ("stopped", "shutdown")),
        (("start",), ("active", "running")),
    ):
        row = server_json(state_dir, *args, "vm1")
        assert _state(row) == ("compute2", *power, "pmem.large"), args
        assert row["pmem"] == confirmed["pmem"], args
        assert data.found_in(dest), args

    deleted = pmemtrack(state_dir, "server", "delete", "vm1", "-f", "json")
    assert (deleted.returncode, deleted.stderr) == (0, "")
    assert json.loads(deleted.stdout) == {"id": created["id"], "deleted": True}
    assert is_zeroed(dest)
    assert server_json(state_dir, "list") == []


def test_same_host_migrate_copies_the_data(state_dir):
    created = server_json(state_dir, "create", "vm", "--flavor", "pmem.medium")
    source = one_device(created, "MEDIUM", "compute1", state_dir, MEDIUM_SIZE)
    data = GuestData("vm", MEDIUM_SIZE)
    data.write(source)

    migrated = server_json(
        state_dir, "migrate", "vm", "--copy-pmem-devices", quiet=False
    )

    assert _state(migrated) == ("compute1", "resized", "running", "pmem.medium")
    dest = one_device(migrated, "MEDIUM", "compute1", state_dir, MEDIUM_SIZE)
    assert dest != source
    assert data.found_in(dest)


# -- bad input ----------------------------------------------------------------


def test_bad_input_gives_one_line_and_changes_nothing(state_dir, tmp_path):
    large = ("--flavor", "pmem.large", "--host", "compute1")
    server_json(state_dir, "create", "vm1", *large)
    server_json(state_dir, "create", "vm2", *large)
    # vm2 keeps its compute1 namespace until the move is confirmed.
    server_json(state_dir, "migrate", "vm2", "--host", "compute2", quiet=False)
    before = server_json(state_dir, "list")
    assert [_state(row)[:2] for row in before] == [
        ("compute1", "active"),
        ("compute2", "resized"),
    ]
    bad_conf = tmp_path / "bad.conf"
    bad_conf.write_text("[quota]\ndefault_limit = -7\n")
    no_host = (
        "host nowhere is not driven here; this deployment drives compute1, compute2"
    )

    for args, fragment in (
        (
            ("server", "create", "vm3", "--flavor", "pmem.huge"),
            "Flavor pmem.huge is not known; known flavors: m1.small, pmem.large,",
        ),
        (("server", "delete", "ghost"), "No instance has the name or id ghost."),
        (
            ("server", "create", "vm3", "--flavor", "pmem.medium", "--host", "nowhere"),
            no_host,
        ),
        (("server", "migrate", "vm1", "--host", "nowhere"), no_host),
        (
            ("server", "resize", "vm2", "--flavor", "pmem.medium"),
            "it is resized; only an active or stopped instance moves",
        ),
        (
            ("server", "confirm", "vm1"),
            f"Cannot confirm instance {before[0]['id']}: it has no finished resize",
        ),
        (
            ("--config-file", str(bad_conf), "server", "delete", "vm1"),
            "Invalid configuration: [quota] default_limit = '-7'",
        ),
    ):
        result = pmemtrack(state_dir, *args)
        cli.assert_one_error_line(result, fragment)
        assert result.stdout == "", args

    assert server_json(state_dir, "list") == before

    refused = pmemtrack(state_dir, "server", "create", "vm3", *large)
    cli.assert_one_error_line(refused, "label LARGE (CUSTOM_PMEM_NAMESPACE_LARGE)")
    assert refused.stderr.rstrip().endswith("wanted 1, 0 free.")
    assert refused.stdout == ""


# -- known bugs ---------------------------------------------------------------


def test_a_refused_create_leaves_no_instance(state_dir):
    large = ("--flavor", "pmem.large", "--host", "compute1")
    before = [server_json(state_dir, "create", f"big{i}", *large) for i in (1, 2)]

    refused = pmemtrack(state_dir, "server", "create", "big3", *large)

    cli.assert_one_error_line(refused, "0 free")
    assert server_json(state_dir, "list") == before


def test_a_command_leaves_no_sshd_running(state_dir):
    assert server_json(state_dir, "list") == []

    assert _own_processes_naming(state_dir) == []
    assert list(state_dir.glob("sshd-*")) == []
