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
import functools
import shlex
import threading
import time

from oslo_log import log as logging

from pmemtrack import exception
from pmemtrack.virt.datamover import checksum
from pmemtrack.virt.datamover import daxio_report
from pmemtrack.virt.datamover import daxio_stream
from pmemtrack.virt.datamover import extents
from pmemtrack.virt.datamover import progress as progress_meter
from pmemtrack.virt.datamover import ssh

LOG = logging.getLogger(__name__)


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


class Mover:
    """Copies namespaces to ``dest`` (an address; None: this host).

    ``progress`` gets a ``Progress`` at most every ``progress_interval``
    seconds; setting ``cancelled`` (an Event) stops a copy in progress.
    With ``lease_token``, every writer at the destination runs under the
    namespace's write lease (``lease.py``) and refuses to write once it no
    longer holds that token.
    """

    def __init__(
        self,
        tools,
        dest=None,
        ssh_settings=None,
        stall_timeout=120,
        chunk_size=1024 * 1024,
        progress=None,
        progress_interval=progress_meter.PROGRESS_INTERVAL,
        cancelled=None,
        lease_token=None,
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
        self.cancelled = cancelled or threading.Event()
        self.lease_token = lease_token
        self.connection = None
        self.where = dest or "this host"

    def copy(self, old, new):
        """Copy ``old`` into ``new`` and verify it; a ``CopyResult``."""
        check_sizes([(old, new)], self.where)
        try:
            result = self._copy(old, new)
            started = time.monotonic()
            result.checksum = self._verify(old, new)
            result.verify_seconds = time.monotonic() - started
            result.verified = True
        except (exception.CopyStepFailed, exception.SSHError, OSError, EOFError) as err:
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
        return exception.CopyFailed(
            namespace=old.name, destination=self._target(new), reason=err
        )

    def _connect(self):
        if self.dest is not None and self.connection is None:
            self.connection = ssh.connect(self.dest, self.ssh_settings)
        return self.connection

    def _copy(self, old, new):
        self._connect()
        started = time.monotonic()
        argv = self.tools.argv("daxio", "-i", old.devpath, "-l", str(old.size))
        source = daxio_stream.Source(argv, self.tools.env, self.stall_timeout, old.size)
        runs = extents.Extents(
            functools.partial(self.open_sink, new.devpath),
            old.size,
            self.chunk_size,
            self.stall_timeout,
            self.where,
        )
        try:
            self._stream(old, source, runs)
            runs.finish()
            daxio_report.check_daxio(source.finish(), old.size, "this host")
        finally:
            source.abort()
            runs.abort()
        return CopyResult(
            name=old.name,
            destination=self.where,
            bytes_total=old.size,
            wire_bytes=runs.sent,
            extents=runs.count,
            seconds=time.monotonic() - started,
        )

    def _stream(self, old, source, runs):
        meter = progress_meter.Meter(
            old.name, old.size, self.progress, self.progress_interval, self.where
        )
        for offset, length, view in source.chunks():
            if self.cancelled.is_set():
                raise exception.CopyStepFailed("cancelled: another namespace failed")
            if view is None:
                runs.zeros(length)
            else:
                runs.data(offset, view)
            meter.update(offset + length)

    def open_sink(self, devpath, offset, length):
        """A daxio writing its stdin into ``devpath`` from ``offset``."""
        args = ("-o", devpath, "-s", str(offset), "-l", str(length))
        if self.lease_token is None:
            argv = self.tools.argv("daxio", *args)
        else:
            argv = self.tools.fenced_daxio_argv(self.lease_token, devpath, *args)
        if self.connection is None:
            return daxio_stream.LocalProcess(
                argv, self.tools.env, self.stall_timeout, feed=True
            )
        return self.connection.start(shlex.join(argv), self.stall_timeout)

    def _verify(self, old, new):
        self._connect()
        checksums = checksum.Checksums(
            self.tools, self.connection, self.stall_timeout, self.where
        )
        return checksums.compare(old, new)


def check_sizes(pairs, where):
    """Refuse, before any byte moves, a destination smaller than its source."""
    for old, new in pairs:
        if new.size < old.size:
            raise exception.CopyFailed(
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


def copy_namespaces_conf(pairs, tools, dest, migration_conf, progress=None,
                         **options):  # fmt: skip
    """``copy_namespaces`` with the ``[migration]`` options (SSH settings,
    stall timeout, parallel streams, chunk size, progress interval): how a
    move copies."""
    return copy_namespaces(
        pairs,
        tools,
        dest=dest,
        ssh_settings=ssh.Settings.from_conf(migration_conf) if dest else None,
        progress=progress,
        stall_timeout=migration_conf.stall_timeout,
        parallel_streams=migration_conf.parallel_streams,
        chunk_size=migration_conf.chunk_size,
        progress_interval=migration_conf.progress_interval,
        **options,
    )
