#!/usr/bin/env python3
"""Namespace copy throughput over SSH, next to OpenSSH on the same data.

A real sshd on 127.0.0.1 and two simulated PMEM hosts whose devices live in
memory (``/dev/shm``, as PMEM does). For each case the mover copies a
namespace of ``--size`` bytes into a zeroed namespace of the other host,
timed from connecting to the last byte written (the checksums are timed
apart); in the same round OpenSSH streams the same device file:
``cat FILE | ssh -c aes128-gcm@openssh.com ... 'cat > /dev/null'``. Cases:

- ``random``: random data throughout;
- ``zeros90``: 90% zeros, the other 10% random data in four extents.

``ratio`` is the mover's throughput over OpenSSH's. Goals: random data at a
ratio >= 0.9; the 90%-zero namespace copied at least 3x faster than the
random one.

    python benchmarks/copy_bench.py                       # 1 GiB, medians of 3
    python benchmarks/copy_bench.py --size 64M --repeat 1 # quick, < 30 s
    python benchmarks/copy_bench.py --json                # rows for machines
"""

import argparse
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# The project root, for running from a checkout without installing.
sys.path[:] = [ROOT, *(p for p in sys.path if os.path.abspath(p) != HERE)]

from pmemtrack.sandbox import loopback_sshd as sshd  # noqa: E402
from pmemtrack.sandbox import simulated  # noqa: E402
from pmemtrack.virt.datamover import mover  # noqa: E402
from pmemtrack.virt.datamover import ssh  # noqa: E402
from pmemtrack.virt.libvirt import privileged  # noqa: E402

MiB = 1024 * 1024
CASES = ("random", "zeros90")
DATA_EXTENTS = 4
CIPHER = "aes128-gcm@openssh.com"
# Devices in memory, as PMEM is: files on a disk would measure the kernel
# writing dirty pages back (and throttling the writer) instead of the copy.
SHM = "/dev/shm"
_UNITS = {"": 1, "K": 1024, "M": MiB, "G": 1024 * MiB}


def parse_size(text):
    number, unit = text.rstrip("KMGkmg"), text[len(text.rstrip("KMGkmg")) :]
    size = int(number) * _UNITS[unit.upper()]
    if size < 16 * MiB or size % (2 * MiB):
        raise argparse.ArgumentTypeError("size must be a multiple of 2M, >= 16M")
    return size


# -- set-up -------------------------------------------------------------------


def make_tools(root):
    conf = types.SimpleNamespace(
        backend="simulated",
        simulated_path=root,
        command_timeout=60,
        wipe_timeout=600,
        # Unused with the simulated backend: leases live under the root.
        lease_dir=os.path.join(root, "leases"),
    )
    return privileged.Tools(conf)


def make_namespace(root, name, size):
    entry = simulated.create_namespace(root, name, size)
    chardev = entry["daxregion"]["devices"][0]["chardev"]
    return types.SimpleNamespace(
        name=name, size=size, devpath=simulated.device_path(root, chardev)
    )


def _write_random(f, offset, length):
    f.seek(offset)
    while length:
        chunk = min(length, 64 * MiB)
        f.write(os.urandom(chunk))
        length -= chunk


def fill(namespace, case):
    """Random data everywhere, or in DATA_EXTENTS runs making up 10%."""
    with open(namespace.devpath, "r+b") as f:
        if case == "random":
            _write_random(f, 0, namespace.size)
            return
        stride = namespace.size // DATA_EXTENTS
        run = max(
            2 * MiB, namespace.size // 10 // DATA_EXTENTS // (2 * MiB) * (2 * MiB)
        )
        for i in range(DATA_EXTENTS):
            # Each run sits mid-stride, so zeros come before and after it.
            _write_random(f, i * stride + stride // 3, run)


# -- one round ----------------------------------------------------------------


def wipe(namespace):
    """Zero the destination in place. PMEM is always there; a sparse file
    would have its pages allocated during the copy, which in a VM costs
    more than the copy itself (3 s of system time per GiB here)."""
    zeros = bytes(64 * MiB)
    with open(namespace.devpath, "r+b") as f:
        for offset in range(0, namespace.size, len(zeros)):
            f.write(zeros[: namespace.size - offset])


def copy_once(tools, server, settings, old, new):
    wipe(new)
    started = time.monotonic()
    (result,) = mover.copy_namespaces(
        [(old, new)], tools, dest=server.address, ssh_settings=settings
    )
    elapsed = time.monotonic() - started
    return dict(
        seconds=elapsed - result.verify_seconds,
        wire_bytes=result.wire_bytes,
        verify_seconds=result.verify_seconds,
        verified=result.verified,
    )


def openssh_once(server, path):
    ssh_argv = [
        "ssh",
        "-c",
        CIPHER,
        "-p",
        str(server.port),
        "-i",
        server.client_key,
        "-o",
        f"UserKnownHostsFile={server.known_hosts}",
        "-o",
        "BatchMode=yes",
        server.address,
        "cat > /dev/null",
    ]
    command = f"cat {shlex.quote(path)} | {shlex.join(ssh_argv)}"
    started = time.monotonic()
    subprocess.run(command, shell=True, check=True)
    return time.monotonic() - started


def run_case(case, size, repeat, server, settings, tmp):
    src_root = os.path.join(tmp, case, "source")
    dst_root = os.path.join(tmp, case, "destination")
    try:
        tools = make_tools(src_root)
        old = make_namespace(src_root, f"{case}-old", size)
        new = make_namespace(dst_root, f"{case}-new", size)
        fill(old, case)
        runs, openssh = [], []
        for _ in range(repeat):
            runs.append(copy_once(tools, server, settings, old, new))
            openssh.append(openssh_once(server, old.devpath))
    finally:
        # In /dev/shm the devices are memory: give it back before the next.
        shutil.rmtree(os.path.join(tmp, case), ignore_errors=True)
    return _row(case, size, runs, openssh)


def _row(case, size, runs, openssh):
    seconds = statistics.median(r["seconds"] for r in runs)
    openssh_seconds = statistics.median(openssh)
    return dict(
        case=case,
        bytes=size,
        wire_bytes=runs[0]["wire_bytes"],
        seconds=round(seconds, 3),
        mb_per_s=round(size / seconds / 1e6, 1),
        openssh_seconds=round(openssh_seconds, 3),
        openssh_mb_per_s=round(size / openssh_seconds / 1e6, 1),
        ratio=round(openssh_seconds / seconds, 3),
        verify_seconds=round(statistics.median(r["verify_seconds"] for r in runs), 3),
        verified=all(r["verified"] for r in runs),
    )


# -- report -------------------------------------------------------------------


def print_table(rows):
    header = (
        f"{'case':<8} {'bytes':>11} {'wire':>11} {'copy s':>7} {'MB/s':>7} "
        f"{'OpenSSH':>8} {'ratio':>6} {'verify s':>8} verified"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['case']:<8} {r['bytes']:>11} {r['wire_bytes']:>11} "
            f"{r['seconds']:>7.2f} {r['mb_per_s']:>7.1f} "
            f"{r['openssh_mb_per_s']:>8.1f} {r['ratio']:>6.2f} "
            f"{r['verify_seconds']:>8.2f} {r['verified']}"
        )
    by_case = {r["case"]: r for r in rows}
    if set(CASES) <= set(by_case):
        random, zeros = by_case["random"], by_case["zeros90"]
        speedup = random["seconds"] / zeros["seconds"]
        print()
        print(f"random vs OpenSSH: {random['ratio']:.2f} (goal >= 0.90)")
        print(f"zeros90 vs random: {speedup:.2f}x faster (goal >= 3x)")


def _available_memory():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def pick_tmpdir(requested, size):
    """/dev/shm when the devices of one case (up to twice ``size``) fit in
    memory with room to spare, else the system's temporary directory."""
    if requested:
        return requested
    if os.access(SHM, os.W_OK) and 3 * size + 1024 * MiB < _available_memory():
        return SHM
    print(f"not enough free memory for {SHM}: devices go to disk", file=sys.stderr)
    return None


def _stop_on_sigterm(signum, frame):
    # Unwind, so the temporary devices and sshd are cleaned up.
    raise SystemExit(128 + signum)


def run(args):
    tmpdir = pick_tmpdir(args.tmpdir, args.size)
    with tempfile.TemporaryDirectory(prefix="pmemtrack-copy-", dir=tmpdir) as tmp:
        server = sshd.SSHServer(os.path.join(tmp, "sshd"))
        try:
            server.start()
            settings = ssh.Settings(
                user=server.user,
                key_file=server.client_key,
                known_hosts_file=server.known_hosts,
                port=server.port,
            )
            return [
                run_case(case, args.size, args.repeat, server, settings, tmp)
                for case in args.case or CASES
            ]
        finally:
            server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=1024 * MiB)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    parser.add_argument("--case", choices=CASES, action="append")
    parser.add_argument(
        "--tmpdir", help=f"where the simulated devices live (default: {SHM})"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    rows = run(args)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_table(rows)


if __name__ == "__main__":
    main()
