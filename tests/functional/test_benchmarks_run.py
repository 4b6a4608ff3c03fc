"""Both benchmarks run exactly as the README says, from the top of the tree,
and what they print holds the invariants (no double assignment, nothing
over quota, every copy verified)."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(*args):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


@pytest.mark.parametrize("backend", ["sqlite"])
def test_claims_quick_prints_its_tables_with_no_double_assignment(backend):
    done = _run("benchmarks/claims.py", "--quick")
    assert done.returncode == 0, done.stderr[-5000:]
    throughput = [
        line.split() for line in done.stdout.splitlines() if line.startswith("sqlite ")
    ]
    header = next(line.split() for line in done.stdout.splitlines()
                  if line.startswith("backend") and "double" in line)  # fmt: skip
    rows = [
        dict(zip(header, row, strict=False))
        for row in throughput
        if len(row) == len(header)
    ]
    assert len(rows) == 6, done.stdout
    assert all(row["double"] == "0" and row["over-q"] == "0" for row in rows), (
        done.stdout
    )
    assert all(row["give-ups"] == "0" for row in rows), done.stdout


@pytest.mark.parametrize("backend", ["sqlite"])
def test_copy_bench_quick_run_verifies_every_copy(backend):
    done = _run("benchmarks/copy_bench.py", "--size", "64M", "--repeat", "1", "--json")
    assert done.returncode == 0, done.stderr[-5000:]
    rows = json.loads(done.stdout)
    assert {row["case"] for row in rows} == {"random", "zeros90"}
    assert all(row["verified"] for row in rows), rows
    assert all(row["bytes"] == 64 * 1024 * 1024 for row in rows), rows
