"""Copy the data of namespaces to new namespaces, on another host or this one.

The source namespace is read once, in order, by ``daxio`` into this process,
which looks at it 2 MiB at a time. A destination namespace is known to hold
only zeros (pmemtrack wipes a namespace before it returns to the free pool),
so only the extents holding data are written: each by its own ``daxio -o NEW
-s OFFSET -l LEN`` at the destination, fed over an SSH channel or, for a
same-host copy, a local pipe. Checksums of both namespaces prove the copy.

Real daxio handles stdin and stdout only when ``-i``/``-o`` are left out
(given ``/dev/stdout`` it opens the path and refuses the pipe behind it), so
the stream ends are always left out.
"""

import concurrent.futures
import dataclasses
import fcntl
import os
import queue
import re
import select
import shlex
import subprocess
import tempfile
import threading
import time

from oslo_log import log as logging

from pmemtrack import exception
from pmemtrack.virt.libvirt import ssh

LOG = logging.getLogger(__name__)

# Zeros are found 2 MiB at a time: the usual devdax alignment, and a size at
# which comparing with a zero buffer costs about 40 ms per GiB.
GRANULE = 2 * 1024 * 1024
_ZEROS = bytes(GRANULE)
# Each extent costs a channel, a shell and a daxio started at the
# destination: 37 ms measured with the simulated daxio (a Python program),
# a few ms with the real one. At 400-600 MB/s, 16 MiB of zeros cross in
# 25-40 ms: shorter runs of zeros between data are cheaper to send.
ZERO_GAP = 16 * 1024 * 1024
# Extents whose daxio is still finishing; sshd allows 10 sessions per
# connection by default (MaxSessions).
MAX_PENDING = 4
# Buffers (32 MiB) the source is read ahead into while data is being sent:
# enough to read on while a new extent's daxio starts at the destination.
READ_AHEAD = 16
# A long run of zeros is passed on in parts, so progress keeps moving.
ZERO_REPORT = 256 * 1024 * 1024
PROGRESS_INTERVAL = 1.0
_POLL_INTERVAL = 0.2
# The checksums report no progress; allow them reading this slowly.
VERIFY_MIN_RATE = 50 * 1000 * 1000
# Pipes of 1 MiB let each read and write move a whole buffer.
PIPE_SIZE = 1024 * 1024
# Both sides hash with openssl where it is installed: it uses the CPU's SHA
# instructions and runs 3x faster than coreutils' sha256sum. "exit=" reports
# daxio's own status, which the pipeline would hide.
_HASH_SCRIPT = (
    '{ "$@"; echo "exit=$?" >&2; } | '
    "if command -v openssl >/dev/null 2>&1; "
    "then openssl dgst -sha256 -r; else sha256sum; fi"
)
_COPIED = re.compile(r"copied (\d+) bytes")
_EXIT = re.compile(r"^exit=(\d+)\n?", re.MULTILINE)
_HEX = re.compile(r"^[0-9a-f]{64}$")


class CopyFailed(exception.PmemtrackException):
    msg_fmt = "Copying namespace %(namespace)s to %(destination)s failed: %(reason)s"


class _Failed(Exception):
    """Why a copy failed; ``Mover.copy`` turns it into CopyFailed."""


@dataclasses.dataclass
class Progress:
    name: str
    done: int
    total: int
    seconds: float

    @property
    def percent(self):
        return 100.0 * self.done / self.total if self.total else 100.0

    @property
    def mb_per_s(self):
        return self.done / self.seconds / 1e6 if self.seconds else 0.0

    @property
    def eta(self):
        """Seconds left at the rate so far (None before any byte moved)."""
        if not self.done:
            return None
        return (self.total - self.done) * self.seconds / self.done


@dataclasses.dataclass
class CopyResult:
    name: str
    destination: str
    bytes_total: int
    wire_bytes: int
    extents: int
    seconds: float
    verify_seconds: float = 0.0
    verified: bool = False
    checksum: str = None

    @property
    def mb_per_s(self):
        return self.bytes_total / self.seconds / 1e6 if self.seconds else 0.0


class _Meter:
    """Logs and reports progress at most every ``interval`` seconds."""

    def __init__(self, name, total, callback, interval, where):
        self.name, self.total, self.where = name, total, where
        self.callback = callback
        self.interval = interval
        self.start = time.monotonic()
        self.next = self.start + interval

    def update(self, done):
        now = time.monotonic()
        if now < self.next and done < self.total:
            return
        self.next = now + self.interval
        progress = Progress(self.name, done, self.total, now - self.start)
        eta = progress.eta
        LOG.info(
            "Copying %s to %s: %d of %d bytes (%.0f%%), %.1f MB/s, ETA %s s",
            self.name,
            self.where,
            done,
            self.total,
            progress.percent,
            progress.mb_per_s,
            "?" if eta is None else f"{eta:.0f}",
        )
        if self.callback is not None:
            self.callback(progress)


# -- local processes ----------------------------------------------------------


def _grow_pipe(fd):
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (OSError, AttributeError):
        # Over the user's pipe limit: the default size only costs speed.
        pass


def _wait_for(fd, writing, timeout):
    ready = (
        select.select([], [fd], [], timeout)
        if writing
        else select.select([fd], [], [], timeout)
    )
    if not any(ready):
        raise _Failed(f"no progress for {timeout} seconds")


class _LocalProcess:
    """A command here, with the interface of ``ssh.RemoteProcess``; with
    ``stream`` its stdout is a pipe to read from, else it is collected."""

    def __init__(self, argv, env, timeout, feed=False, stream=False):
        self.command = shlex.join(argv)
        self.timeout = timeout
        self._out = None if stream else tempfile.TemporaryFile()
        self._err = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if feed else subprocess.DEVNULL,
            stdout=subprocess.PIPE if stream else self._out,
            stderr=self._err,
            env=None if env is None else {**os.environ, **env},
        )
        self.fd = None
        if feed or stream:
            # Non-blocking: a read or write that would wait goes through
            # select, which bounds the wait by the stall timeout.
            pipe = self.process.stdin if feed else self.process.stdout
            self.fd = pipe.fileno()
            _grow_pipe(self.fd)
            os.set_blocking(self.fd, False)

    def write(self, view):
        """False if the command closed its stdin (it ended)."""
        while view:
            try:
                view = view[os.write(self.fd, view) :]
            except BlockingIOError:
                _wait_for(self.fd, True, self.timeout)
            except BrokenPipeError:
                return False
        return True

    def readinto(self, view):
        """Fill ``view``; the number of bytes read, short only at the end."""
        got = 0
        while got < len(view):
            try:
                n = os.readv(self.fd, [view[got:]])
            except BlockingIOError:
                _wait_for(self.fd, False, self.timeout)
                continue
            if not n:
                break
            got += n
        return got

    def close_stdin(self):
        if self.process.stdin and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except BrokenPipeError:
                pass

    def poll(self):
        return self.process.poll() is not None

    def wait(self, timeout):
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise _Failed(f"{self.command} did not end within {timeout:.0f} s")
        stdout = b"" if self._out is None else _read_back(self._out)
        return ssh.Result(
            status, stdout, _read_back(self._err).decode(errors="replace")
        )

    def abort(self):
        self.close_stdin()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for f in (self.process.stdout, self._out, self._err):
            if f is not None:
                f.close()


def _read_back(f):
    f.seek(0)
    return f.read()


class _Source:
    """``daxio`` streaming a namespace into this process through a pipe.

    A thread reads ahead into READ_AHEAD buffers and sorts out the zeros, so
    reading the source goes on while the data is being sent.
    """

    def __init__(self, argv, env, timeout, size):
        self.timeout = timeout
        self.process = _LocalProcess(argv, env, timeout, stream=True)
        self._free = queue.Queue()
        for _ in range(READ_AHEAD):
            self._free.put(bytearray(GRANULE))
        self._ready = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(size,), name="pmem-copy-reader", daemon=True
        )
        self._thread.start()

    def chunks(self):
        """``(offset, length, view)`` in order; ``view`` is None for zeros
        and valid until the next chunk is taken."""
        while True:
            try:
                item = self._ready.get(timeout=self.timeout)
            except queue.Empty:
                raise _Failed(f"no progress for {self.timeout} seconds")
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            offset, length, buf = item
            if buf is None:
                yield offset, length, None
            else:
                yield offset, length, memoryview(buf)[:length]
                self._free.put(buf)

    def _run(self, size):
        try:
            self._read_all(size)
            self._ready.put(None)
        except Exception as err:
            self._ready.put(err)

    def _read_all(self, size):
        offset = zeros_at = 0
        while offset < size:
            buf = self._take()
            n = min(GRANULE, size - offset)
            if self.process.readinto(memoryview(buf)[:n]) < n:
                self._ended_early()
            if _is_zero(buf, n):
                self._free.put(buf)
            else:
                if zeros_at < offset:
                    self._ready.put((zeros_at, offset - zeros_at, None))
                self._ready.put((offset, n, buf))
                zeros_at = offset + n
            offset += n
            if offset - zeros_at >= ZERO_REPORT:
                self._ready.put((zeros_at, offset - zeros_at, None))
                zeros_at = offset
        if zeros_at < offset:
            self._ready.put((zeros_at, offset - zeros_at, None))

    def _take(self):
        while not self._stop.is_set():
            try:
                return self._free.get(timeout=_POLL_INTERVAL)
            except queue.Empty:
                continue
        raise _Failed("stopped")

    def _ended_early(self):
        result = self.process.wait(self.timeout)
        raise _Failed(
            f"the source ended early (daxio exited with {result.exit_status}): "
            f"{result.stderr.strip() or '(nothing on stderr)'}"
        )

    def finish(self):
        """daxio's ``Result`` once it has ended."""
        return self.process.wait(self.timeout)

    def abort(self):
        self._stop.set()
        if not self.process.poll():
            self.process.process.kill()
        self._thread.join()
        self.process.abort()


# -- what daxio says ----------------------------------------------------------


def _check_daxio(result, expected, where):
    """Raise unless daxio exited 0 having copied ``expected`` bytes (None:
    any number)."""
    text = result.stderr.strip() or "(nothing on stderr)"
    if result.exit_status != 0:
        raise _Failed(f"daxio on {where} exited with {result.exit_status}: {text}")
    copied = _COPIED.findall(result.stderr)
    if expected is not None and (not copied or int(copied[-1]) != expected):
        raise _Failed(
            f"daxio on {where} copied {copied[-1] if copied else 'no'} bytes "
            f"where {expected} were expected: {text}"
        )


def _parse_hash(result, length, where):
    exit_line = _EXIT.search(result.stderr)
    if exit_line is None:
        raise _Failed(f"checksum on {where} failed: {result.stderr.strip()}")
    stderr = _EXIT.sub("", result.stderr)
    _check_daxio(ssh.Result(int(exit_line.group(1)), b"", stderr), length, where)
    digest = result.stdout.decode(errors="replace").split()[:1]
    if result.exit_status != 0 or not digest or not _HEX.match(digest[0]):
        raise _Failed(
            f"checksum on {where} failed (exit {result.exit_status}): {stderr.strip()}"
        )
    return digest[0]


def _is_zero(buf, n):
    return buf.startswith(_ZEROS if n == GRANULE else _ZEROS[:n])


# -- copying ------------------------------------------------------------------


class _Extents:
    """The runs of data written into one destination namespace, each by its
    own daxio; runs of zeros shorter than ZERO_GAP are written too."""

    def __init__(self, mover, new, size):
        self.mover = mover
        self.new = new
        self.size = size
        self.sink = None
        self.sink_sent = 0
        self.gap = 0
        self.sent = 0
        self.count = 0
        self.pending = []

    def zeros(self, n):
        if self.sink is not None:
            self.gap += n
            if self.gap >= ZERO_GAP:
                self._end()

    def data(self, offset, view):
        if self.sink is None:
            self._start(offset)
        while self.gap:
            n = min(self.gap, GRANULE)
            self._write(memoryview(_ZEROS)[:n])
            self.gap -= n
        self._write(view)

    def _start(self, offset):
        self._reap(MAX_PENDING - 1)
        # Where the run ends is unknown while the source streams by, so -l
        # is where the copied data ends; daxio stops at our EOF and reports
        # what it copied, which must be what we sent.
        self.sink = self.mover.open_sink(self.new.devpath, offset, self.size - offset)
        self.sink_sent = 0
        self.count += 1

    def _write(self, view):
        step = self.mover.chunk_size
        for start in range(0, len(view), step):
            piece = view[start : start + step]
            if not self.sink.write(piece):
                self._stopped()
            self.sink_sent += len(piece)
        self.sent += len(view)

    def _stopped(self):
        result = self.sink.wait(self.mover.stall_timeout)
        _check_daxio(result, None, self.mover.where)
        raise _Failed(
            f"daxio on {self.mover.where} stopped reading after "
            f"{self.sink_sent} bytes: {result.stderr.strip()}"
        )

    def _end(self):
        self.sink.close_stdin()
        self.pending.append((self.sink, self.sink_sent))
        self.sink = None
        self.gap = 0

    def _reap(self, keep):
        """Check the ended runs whose daxio is done, waiting for the oldest
        while more than ``keep`` are still running."""
        while self.pending:
            sink, expected = self.pending[0]
            if len(self.pending) <= keep and not sink.poll():
                return
            self.pending.pop(0)
            try:
                result = sink.wait(self.mover.stall_timeout)
            finally:
                sink.abort()
            _check_daxio(result, expected, self.mover.where)

    def finish(self):
        if self.sink is not None:
            self._end()
        self._reap(0)

    def abort(self):
        for sink in [self.sink, *(sink for sink, _ in self.pending)]:
            if sink is not None:
                sink.abort()


class Mover:
    """Copies namespaces to ``dest`` (an address; None: this host).

    ``progress`` gets a ``Progress`` at most every ``progress_interval``
    seconds; ``before_verify(old, new)`` runs between the copy and the
    checksums; setting ``cancelled`` (an Event) stops a copy in progress.
    """

    def __init__(
        self,
        tools,
        dest=None,
        ssh_settings=None,
        stall_timeout=120,
        chunk_size=1024 * 1024,
        progress=None,
        progress_interval=PROGRESS_INTERVAL,
        before_verify=None,
        cancelled=None,
    ):
        if dest is not None and ssh_settings is None:
            raise ValueError("a copy to another host needs ssh_settings")
        self.tools = tools
        self.dest = dest
        self.ssh_settings = ssh_settings
        self.stall_timeout = stall_timeout
        self.chunk_size = chunk_size
        self.progress = progress
        self.progress_interval = progress_interval
        self.before_verify = before_verify
        self.cancelled = cancelled or threading.Event()
        self.connection = None
        self.where = dest or "this host"

    def copy(self, old, new):
        """Copy ``old`` into ``new`` and verify it; a ``CopyResult``."""
        check_sizes([(old, new)], self.where)
        try:
            result = self._copy(old, new)
            if self.before_verify is not None:
                self.before_verify(old, new)
            started = time.monotonic()
            result.checksum = self._verify(old, new)
            result.verify_seconds = time.monotonic() - started
            result.verified = True
        except (_Failed, ssh.SSHError, OSError, EOFError) as err:
            raise self._failed(old, new, err) from err
        LOG.info(
            "Copied %s to %s: %d bytes (%d sent) in %.1f s, %.1f MB/s; "
            "verified in %.1f s, sha256 %s",
            old.name,
            self._target(new),
            result.bytes_total,
            result.wire_bytes,
            result.seconds,
            result.mb_per_s,
            result.verify_seconds,
            result.checksum,
        )
        return result

    def verify(self, old, new):
        """The SHA-256 of the first ``old.size`` bytes of both namespaces,
        computed on both hosts at once; CopyFailed if they differ."""
        try:
            return self._verify(old, new)
        except (_Failed, ssh.SSHError, OSError, EOFError) as err:
            raise self._failed(old, new, err) from err

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _target(self, new):
        return f"{new.name} ({new.devpath}) on {self.where}"

    def _failed(self, old, new, err):
        return CopyFailed(namespace=old.name, destination=self._target(new), reason=err)

    def _connect(self):
        if self.dest is not None and self.connection is None:
            self.connection = ssh.connect(self.dest, self.ssh_settings)
        return self.connection

    def _copy(self, old, new):
        self._connect()
        started = time.monotonic()
        argv = self.tools.argv("daxio", "-i", old.devpath, "-l", str(old.size))
        source = _Source(argv, self.tools.env, self.stall_timeout, old.size)
        extents = _Extents(self, new, old.size)
        try:
            self._stream(old, source, extents)
            extents.finish()
            _check_daxio(source.finish(), old.size, "this host")
        finally:
            source.abort()
            extents.abort()
        return CopyResult(
            name=old.name,
            destination=self.where,
            bytes_total=old.size,
            wire_bytes=extents.sent,
            extents=extents.count,
            seconds=time.monotonic() - started,
        )

    def _stream(self, old, source, extents):
        meter = _Meter(
            old.name, old.size, self.progress, self.progress_interval, self.where
        )
        for offset, length, view in source.chunks():
            if self.cancelled.is_set():
                raise _Failed("cancelled: another namespace failed")
            if view is None:
                extents.zeros(length)
            else:
                extents.data(offset, view)
            meter.update(offset + length)

    def open_sink(self, devpath, offset, length):
        """A daxio writing its stdin into ``devpath`` from ``offset``."""
        args = ("-o", devpath, "-s", str(offset), "-l", str(length))
        if self.connection is None:
            argv = self.tools.argv("daxio", *args)
            return _LocalProcess(argv, self.tools.env, self.stall_timeout, feed=True)
        command = self.tools.remote_command("daxio", *args)
        return self.connection.start(command, self.stall_timeout)

    # -- checksums ------------------------------------------------------------

    def _verify(self, old, new):
        self._connect()
        timeout = self.stall_timeout + old.size / VERIFY_MIN_RATE
        here = _LocalProcess(
            self._hash_argv(old.devpath, old.size), self.tools.env, timeout
        )
        try:
            there = self._hash_new(new.devpath, old.size, timeout)
            ours = _parse_hash(here.wait(timeout), old.size, "this host")
        finally:
            here.abort()
        theirs = _parse_hash(there, old.size, self.where)
        if ours != theirs:
            raise _Failed(
                f"checksums differ after the copy: {old.devpath} here has "
                f"sha256 {ours}, {new.devpath} on {self.where} has {theirs}"
            )
        return ours

    def _hash_argv(self, devpath, length):
        daxio = self.tools.argv("daxio", "-i", devpath, "-l", str(length))
        return ["sh", "-c", _HASH_SCRIPT, "sh", *daxio]

    def _hash_new(self, devpath, length, timeout):
        if self.connection is None:
            hasher = _LocalProcess(
                self._hash_argv(devpath, length), self.tools.env, timeout
            )
            try:
                return hasher.wait(timeout)
            finally:
                hasher.abort()
        daxio = self.tools.remote_command("daxio", "-i", devpath, "-l", str(length))
        shell = shlex.join(["sh", "-c", _HASH_SCRIPT, "sh"])
        return self.connection.exec(f"{shell} {daxio}", timeout)


def check_sizes(pairs, where):
    """Refuse, before any byte moves, a destination smaller than its source."""
    for old, new in pairs:
        if new.size < old.size:
            raise CopyFailed(
                namespace=old.name,
                destination=f"{new.name} ({new.devpath}) on {where}",
                reason=f"it holds {new.size} bytes, fewer than the {old.size} "
                "bytes of the source",
            )


def copy_namespaces(
    pairs,
    tools,
    dest=None,
    ssh_settings=None,
    progress=None,
    stall_timeout=120,
    parallel_streams=1,
    **options,
):
    """Copy each ``(old, new)`` pair (objects with ``name``, ``devpath`` and
    ``size``) to ``dest`` (None: this host) and verify it; a ``CopyResult``
    per pair, in order. ``options`` go to ``Mover``. Raises CopyFailed for
    the first pair that fails; with ``parallel_streams`` > 1 the others are
    stopped."""
    pairs = list(pairs)
    check_sizes(pairs, dest or "this host")
    cancelled = threading.Event()

    def mover():
        return Mover(
            tools,
            dest,
            ssh_settings,
            stall_timeout=stall_timeout,
            progress=progress,
            cancelled=cancelled,
            **options,
        )

    if parallel_streams <= 1 or len(pairs) <= 1:
        with mover() as m:
            return [m.copy(old, new) for old, new in pairs]

    failures = []

    def one(pair):
        try:
            with mover() as m:
                return m.copy(*pair)
        except BaseException as err:
            # The first failure is the story; the others were stopped by it.
            failures.append(err)
            cancelled.set()
            raise

    # Each stream has its own connection: one paramiko transport encrypts
    # on one thread at a time.
    with concurrent.futures.ThreadPoolExecutor(parallel_streams) as pool:
        futures = [pool.submit(one, pair) for pair in pairs]
    if failures:
        raise failures[0]
    return [future.result() for future in futures]


def copy_namespaces_conf(pairs, tools, dest, migration_conf, progress=None):
    """``copy_namespaces`` with the ``[migration]`` options."""
    return copy_namespaces(
        pairs,
        tools,
        dest=dest,
        ssh_settings=ssh.Settings.from_conf(migration_conf) if dest else None,
        progress=progress,
        stall_timeout=migration_conf.stall_timeout,
        parallel_streams=migration_conf.parallel_streams,
        chunk_size=migration_conf.chunk_size,
    )
