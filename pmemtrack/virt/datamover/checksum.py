"""Proving a copy: SHA-256 of both namespaces, computed on both hosts."""

import re
import shlex

from pmemtrack import exception
from pmemtrack.virt.datamover import daxio_report
from pmemtrack.virt.datamover import daxio_stream
from pmemtrack.virt.datamover import remote_process

# The checksums report no progress; allow them reading this slowly.
VERIFY_MIN_RATE = 50 * 1000 * 1000
# Both sides hash with openssl where it is installed: it uses the CPU's SHA
# instructions and runs 3x faster than coreutils' sha256sum. "exit=" reports
# daxio's own status, which the pipeline would hide.
_HASH_SCRIPT = (
    '{ "$@"; echo "exit=$?" >&2; } | '
    "if command -v openssl >/dev/null 2>&1; "
    "then openssl dgst -sha256 -r; else sha256sum; fi"
)
_EXIT = re.compile(r"^exit=(\d+)\n?", re.MULTILINE)
_HEX = re.compile(r"^[0-9a-f]{64}$")


def parse_hash(result, length, where):
    exit_line = _EXIT.search(result.stderr)
    if exit_line is None:
        raise exception.CopyStepFailed(
            f"checksum on {where} failed: {result.stderr.strip()}"
        )
    stderr = _EXIT.sub("", result.stderr)
    daxio = remote_process.Result(int(exit_line.group(1)), b"", stderr)
    daxio_report.check_daxio(daxio, length, where)
    digest = result.stdout.decode(errors="replace").split()[:1]
    if result.exit_status != 0 or not digest or not _HEX.match(digest[0]):
        raise exception.CopyStepFailed(
            f"checksum on {where} failed (exit {result.exit_status}): {stderr.strip()}"
        )
    return digest[0]


class Checksums:
    """Hashes a source namespace here and its copy at ``where``, over
    ``connection`` (None: this host too)."""

    def __init__(self, tools, connection, stall_timeout, where):
        self.tools = tools
        self.connection = connection
        self.stall_timeout = stall_timeout
        self.where = where

    def compare(self, old, new):
        """The SHA-256 of the first ``old.size`` bytes of both namespaces,
        computed on both hosts at once; Failed if they differ."""
        timeout = self.stall_timeout + old.size / VERIFY_MIN_RATE
        here = daxio_stream.LocalProcess(
            self._hash_argv(old.devpath, old.size), self.tools.env, timeout
        )
        try:
            there = self._hash_new(new.devpath, old.size, timeout)
            ours = parse_hash(here.wait(timeout), old.size, "this host")
        finally:
            here.abort()
        theirs = parse_hash(there, old.size, self.where)
        if ours != theirs:
            raise exception.CopyStepFailed(
                f"checksums differ after the copy: {old.devpath} here has "
                f"sha256 {ours}, {new.devpath} on {self.where} has {theirs}"
            )
        return ours

    def _hash_argv(self, devpath, length):
        daxio = self.tools.argv("daxio", "-i", devpath, "-l", str(length))
        return ["sh", "-c", _HASH_SCRIPT, "sh", *daxio]

    def _hash_new(self, devpath, length, timeout):
        if self.connection is None:
            hasher = daxio_stream.LocalProcess(
                self._hash_argv(devpath, length), self.tools.env, timeout
            )
            try:
                return hasher.wait(timeout)
            finally:
                hasher.abort()
        daxio = self.tools.remote_command("daxio", "-i", devpath, "-l", str(length))
        shell = shlex.join(["sh", "-c", _HASH_SCRIPT, "sh"])
        return self.connection.exec(f"{shell} {daxio}", timeout)
