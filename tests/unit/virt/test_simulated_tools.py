"""The simulated ndctl, daxctl and daxio, run as real processes on a tmp world.

pmemtrack drives the stand-ins exactly as it drives the real tools, so these
tests hold them to the real tools' output, exit codes and messages.
"""

import json
import os
import stat
import subprocess
import sys

import pytest

from pmemtrack.sandbox import simulated

MiB = 1024 * 1024
BINDIR = os.path.dirname(sys.executable)


def run(tool, *args, root, stdin=None, env=None):
    """Run pmemtrack-sim-<tool>; ``root`` None leaves the world unset."""
    environ = {k: v for k, v in os.environ.items() if k != simulated.ENV_VAR}
    if root is not None:
        environ.update(simulated.environment(root))
    environ.update(env or {})
    return subprocess.run(
        [os.path.join(BINDIR, f"pmemtrack-sim-{tool}"), *args],
        input=stdin,
        capture_output=True,
        env=environ,
        timeout=60,
        check=False,
    )


def ndctl_json(*args, root):
    done = run("ndctl", "list", *args, root=root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def read(path, offset=0, length=None):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read() if length is None else f.read(length)


def fill(path, data, offset=0):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


@pytest.fixture
def root(tmp_path):
    return str(tmp_path / "pmem")


@pytest.fixture
def dax(root):
    """A 4 MiB devdax namespace full of known bytes; returns its device path."""
    simulated.create_namespace(root, "ns0", 4 * MiB)
    path = simulated.device_path(root, "dax0.0")
    fill(path, os.urandom(4 * MiB))
    return path


# -- the world ----------------------------------------------------------------


def test_create_namespace_makes_a_sparse_device_file(root):
    entry = simulated.create_namespace(root, "ns0", 4 * MiB, numa_node=1)

    assert entry["dev"] == "namespace1.0"
    device = entry["daxregion"]["devices"][0]
    assert device["chardev"] == "dax1.0"
    st = os.stat(simulated.device_path(root, "dax1.0"))
    assert st.st_size == 4 * MiB
    assert st.st_blocks * 512 < 4 * MiB
    assert simulated.load(root).namespaces == [entry]


_CREATE_WORLD = """
import sys
from pmemtrack.sandbox import simulated
simulated.create_namespace(sys.argv[1], "ns0", 4 * 1024 * 1024)
simulated.create_dax_device(sys.argv[1], 4 * 1024 * 1024)
"""


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077], ids=oct)
def test_device_files_and_their_directories_are_private(tmp_path, umask):
    # Guest data: the owner's alone whatever the umask of the process that
    # creates the world, here a process of its own.
    root = tmp_path / "a" / "pmem"
    script = f'umask {umask:04o} && exec "$@"'
    argv = [sys.executable, "-c", _CREATE_WORLD, str(root)]
    subprocess.run(["sh", "-c", script, "sh", *argv], check=True, timeout=60)

    def mode(path):
        return stat.S_IMODE(os.stat(path).st_mode)

    dirs = [tmp_path / "a", root, root / simulated.DEV_DIR]
    assert [oct(mode(d)) for d in dirs] == ["0o700"] * 3
    devices = sorted(os.listdir(root / simulated.DEV_DIR))
    assert devices == ["dax0.0", "dax10.0"]
    assert {mode(root / simulated.DEV_DIR / d) for d in devices} == {0o600}
    # The lists name devices and hold no guest data: readable by the tools,
    # whoever runs them.
    assert mode(root / simulated.NDCTL_FILE) == 0o644


def test_create_namespace_numbers_within_the_region(root):
    first = simulated.create_namespace(root, "a", 2 * MiB)
    second = simulated.create_namespace(root, "b", 2 * MiB)
    other = simulated.create_namespace(root, "c", 2 * MiB, region=3)

    assert [first["dev"], second["dev"], other["dev"]] == [
        "namespace0.0",
        "namespace0.1",
        "namespace3.0",
    ]
    assert first["uuid"] != second["uuid"]


@pytest.mark.parametrize("size", [0, -2 * MiB, 3 * MiB, 2 * MiB + 1])
def test_create_namespace_refuses_sizes_off_the_alignment(root, size):
    with pytest.raises(ValueError, match="positive multiple of the alignment"):
        simulated.create_namespace(root, "ns0", size)
    assert simulated.load(root).namespaces == []


def test_create_namespace_refuses_a_duplicate_name(root):
    simulated.create_namespace(root, "ns0", 2 * MiB)
    with pytest.raises(ValueError, match="already exists"):
        simulated.create_namespace(root, "ns0", 2 * MiB)
    assert len(simulated.load(root).namespaces) == 1


def test_only_listed_files_under_dev_are_devices(root, dax, tmp_path):
    stray = simulated.device_path(root, "dax9.9")
    open(stray, "wb").close()
    outside = tmp_path / "outside"
    outside.write_bytes(b"")
    link_out = simulated.device_path(root, "dax0.7")
    os.symlink(outside, link_out)
    link_in = tmp_path / "link-to-dax"
    os.symlink(dax, link_in)

    assert simulated.is_device(root, dax)
    assert simulated.is_device(root, str(link_in))
    assert not simulated.is_device(root, stray)
    assert not simulated.is_device(root, link_out)
    assert not simulated.is_device(root, str(outside))
    assert not simulated.is_device(root, os.path.join(root, "ndctl.json"))


def test_environment_names_the_absolute_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert simulated.environment("pmem") == {
        "PMEMTRACK_SIMULATED_PATH": str(tmp_path / "pmem")
    }


# -- ndctl and daxctl ---------------------------------------------------------


@pytest.mark.parametrize("create", [False, True])
def test_ndctl_prints_nothing_without_namespaces(root, create):
    if create:
        simulated.ensure_root(root)
    done = run("ndctl", "list", "-X", "-v", root=root)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")


def test_ndctl_dax_filter_lists_devdax_namespaces_only(root):
    simulated.create_namespace(root, "ns0", 4 * MiB)
    simulated.create_namespace(root, "fs", 4 * MiB, mode="fsdax")
    simulated.create_namespace(root, None, 2 * MiB)

    listed = ndctl_json("-X", root=root)

    assert [ns["mode"] for ns in listed] == ["devdax", "devdax"]
    assert listed[0]["name"] == "ns0"
    assert "name" not in listed[1]
    assert listed[0]["daxregion"]["devices"][0] == {
        "chardev": "dax0.0",
        "size": 4 * MiB,
        "target_node": 0,
        "align": 2 * MiB,
        "mode": "devdax",
    }
    assert "numa_node" not in listed[0]
    # -N, or no filter, shows every mode; devdax ones then name their chardev.
    for args in (["-N"], []):
        everything = ndctl_json(*args, root=root)
        assert [ns["mode"] for ns in everything] == ["devdax", "fsdax", "devdax"]
        assert everything[0]["chardev"] == "dax0.0"


def test_ndctl_verbose_adds_the_numa_node(root):
    simulated.create_namespace(root, "ns0", 2 * MiB, numa_node=1)

    (listed,) = ndctl_json("-X", "-v", root=root)

    assert listed["numa_node"] == 1
    assert listed["target_node"] == 1
    assert "raw_uuid" in listed


def test_ndctl_human_prints_a_bare_object_for_one_namespace(root):
    simulated.create_namespace(root, "ns0", 2 * MiB)

    listed = ndctl_json("-X", "-u", root=root)

    assert listed["name"] == "ns0"
    assert listed["size"] == "2.00 MiB (2.10 MB)"


def test_ndctl_usage_errors(root):
    unknown_command = run("ndctl", "frobnicate", root=root)
    bad_option = run("ndctl", "list", "--bogus", root=root)

    assert unknown_command.returncode == 1
    assert b"Unknown command: 'frobnicate'" in unknown_command.stderr
    assert bad_option.returncode == 129
    assert b"usage: ndctl list" in bad_option.stderr


@pytest.mark.parametrize("tool, args", [("ndctl", ["list"]), ("daxctl", ["list"])])
def test_list_tools_need_the_world(tool, args):
    done = run(tool, *args, root=None)
    assert done.returncode == 1
    assert done.stderr == f"{tool}: PMEMTRACK_SIMULATED_PATH is not set\n".encode()


def test_daxctl_lists_namespace_and_standalone_devices(root):
    assert run("daxctl", "list", root=root).stdout == b""
    simulated.create_namespace(root, "ns0", 4 * MiB)
    simulated.create_namespace(root, "fs", 4 * MiB, mode="fsdax")
    cxl = simulated.create_dax_device(root, 8 * MiB, target_node=2)

    done = run("daxctl", "list", root=root)

    assert done.returncode == 0
    listed = json.loads(done.stdout)
    assert [d["chardev"] for d in listed] == ["dax0.0", cxl["chardev"]]
    assert listed[1] == {
        "chardev": "dax12.0",
        "size": 8 * MiB,
        "target_node": 2,
        "align": 2 * MiB,
        "mode": "devdax",
    }
    assert os.path.getsize(simulated.device_path(root, "dax12.0")) == 8 * MiB


# -- daxio --------------------------------------------------------------------


def test_daxio_zeroes_the_whole_device(root, dax):
    done = run("daxio", "-z", "-o", dax, root=root)

    assert done.returncode == 0, done.stderr
    assert done.stderr == f'daxio: copied {4 * MiB} bytes to device "{dax}"\n'.encode()
    assert os.path.getsize(dax) == 4 * MiB
    assert read(dax) == bytes(4 * MiB)


def test_daxio_zeroes_a_range(root, dax):
    before = read(dax)

    done = run("daxio", "-z", "-o", dax, "-s", "1M", "-l", "4096", root=root)

    assert done.returncode == 0, done.stderr
    after = read(dax)
    assert after[MiB : MiB + 4096] == bytes(4096)
    assert after[:MiB] == before[:MiB]
    assert after[MiB + 4096 :] == before[MiB + 4096 :]


def test_daxio_copies_a_device_to_stdout(root, dax):
    done = run("daxio", "-i", dax, "-o", "/dev/stdout", root=root)

    assert done.returncode == 0, done.stderr
    assert done.stdout == read(dax)
    assert b'copied 4194304 bytes to device "/dev/stdout"' in done.stderr


def test_daxio_copies_a_range_of_a_device(root, dax):
    done = run("daxio", "-i", dax, "-k", "12345", "-l", "100000", root=root)

    assert done.returncode == 0, done.stderr
    assert done.stdout == read(dax, 12345, 100000)


def test_failing_media_flips_the_byte_a_write_covers_and_only_it(root, dax):
    simulated.flip_written_byte_at(root, 4096 + 10)
    data = os.urandom(MiB)

    covered = run("daxio", "-i", "/dev/stdin", "-o", dax, "-s", "4096",
                  root=root, stdin=data)  # fmt: skip
    before_zeroing = read(dax, 4096, MiB)
    elsewhere = run("daxio", "-i", "/dev/stdin", "-o", dax, "-s", "2M",
                    root=root, stdin=data)  # fmt: skip
    zeroed = run("daxio", "-z", "-o", dax, root=root)

    assert covered.returncode == elsewhere.returncode == zeroed.returncode == 0
    expected = bytearray(data)
    expected[10] ^= 0xFF
    assert before_zeroing == bytes(expected)
    assert read(dax) == bytes(4 * MiB)  # a wipe is never corrupted


def test_daxio_copies_stdin_into_a_device(root, dax):
    before = read(dax)
    data = os.urandom(MiB + 17)

    done = run(
        "daxio", "-i", "/dev/stdin", "-o", dax, "-s", "4096", root=root, stdin=data
    )

    assert done.returncode == 0, done.stderr
    assert done.stderr.endswith(
        f'copied {len(data)} bytes to device "{dax}"\n'.encode()
    )
    assert read(dax, 4096, len(data)) == data
    assert read(dax, 0, 4096) == before[:4096]
    assert read(dax, 4096 + len(data)) == before[4096 + len(data) :]


def test_daxio_copies_only_the_length_asked_from_stdin(root, dax):
    data = os.urandom(8192)

    done = run("daxio", "-o", dax, "-l", "5000", root=root, stdin=data)

    assert done.returncode == 0, done.stderr
    assert read(dax, 0, 5000) == data[:5000]
    assert read(dax, 5000, 3192) != data[5000:]


def test_daxio_streams_one_device_into_another(root, dax):
    simulated.create_namespace(root, "ns1", 4 * MiB)
    target = simulated.device_path(root, "dax0.1")

    out = run("daxio", "-i", dax, "-o", "/dev/stdout", root=root)
    into = run("daxio", "-i", "/dev/stdin", "-o", target, root=root, stdin=out.stdout)

    assert (out.returncode, into.returncode) == (0, 0), into.stderr
    assert read(target) == read(dax)


def test_daxio_refuses_input_larger_than_the_device(root, dax):
    data = os.urandom(4 * MiB + 1)

    done = run("daxio", "-i", "/dev/stdin", "-o", dax, root=root, stdin=data)

    assert done.returncode == 1
    assert done.stderr.startswith(b"daxio: ")
    assert b"bytes to device" not in done.stderr
    # What fits is written before the error.
    assert read(dax) == data[: 4 * MiB]


def test_daxio_refuses_a_length_past_the_end_when_zeroing(root, dax):
    done = run("daxio", "-z", "-o", dax, "-s", "3M", "-l", "2M", root=root)

    assert done.returncode == 1
    assert done.stderr == b"daxio: output offset beyond device size\n"


def test_daxio_needs_a_device_on_one_side(root, dax, tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(b"data")

    done = run("daxio", "-i", str(plain), "-o", "/dev/stdout", root=root)

    assert done.returncode == 1
    assert done.stderr == b"daxio: neither input nor output is device dax\n"
    assert done.stdout == b""


def test_daxio_creates_a_missing_output_then_fails(root, dax, tmp_path):
    missing = tmp_path / "no-such-device"

    done = run("daxio", "-z", "-o", str(missing), root=root)

    assert done.returncode == 1
    assert done.stderr == b"daxio: neither input nor output is device dax\n"
    assert missing.is_file()
    assert missing.stat().st_size == 0


def test_daxio_copies_a_device_into_a_new_plain_file(root, dax, tmp_path):
    # A missing output is only fatal when the input is not a device either.
    target = tmp_path / "copy"

    done = run(
        "daxio", "-i", dax, "-o", str(target), "-s", "10", "-l", "100", root=root
    )

    assert done.returncode == 0, done.stderr
    assert target.read_bytes() == bytes(10) + read(dax, 0, 100)


def test_daxio_does_not_take_a_stray_file_in_dev_for_a_device(root, dax):
    stray = simulated.device_path(root, "dax0.9")
    open(stray, "wb").close()

    done = run("daxio", "-z", "-o", stray, root=root)

    assert done.returncode == 1
    assert b"neither input nor output is device dax" in done.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["-z", "-o", "DEV", "-l", "lots"], b"daxio: 'lots' -- invalid length\n"),
        (["-z"], b"daxio: zeroing flag specified but no output file provided\n"),
        ([], b"daxio: an input file and/or an output file must be provided\n"),
        (["-i", "DEV", "-k", "5M"], b"daxio: '5242880' -- offset beyond device size"),
        (["-i", "/nonexistent", "-o", "DEV"], b"daxio: failed to open '/nonexistent'"),
        (["-z", "-o", "DEV", "-b", "maybe"], b"daxio: 'maybe' -- invalid argument"),
        (["--frobnicate"], b"daxio: "),
    ],
)
def test_daxio_errors(root, dax, args, message):
    args = [dax if arg == "DEV" else arg for arg in args]

    done = run("daxio", *args, root=root)

    assert done.returncode == 1
    assert done.stderr.startswith(message)


def test_daxio_finds_the_world_from_the_device_path(dax):
    # Over SSH the destination's daxio gets its device path and no environment.
    done = run("daxio", "-z", "-o", dax, root=None)
    assert done.returncode == 0, done.stderr


def test_daxio_needs_the_world(tmp_path):
    done = run("daxio", "-z", "-o", str(tmp_path / "nowhere"), root=None)
    assert done.returncode == 1
    assert done.stderr == b"daxio: PMEMTRACK_SIMULATED_PATH is not set\n"
