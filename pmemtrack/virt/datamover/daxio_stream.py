"""daxio running on this host: streaming a namespace in, or fed data."""

import fcntl
import os
import queue
import select
import shlex
import subprocess
import tempfile
import threading

from pmemtrack import exception
from pmemtrack.virt.datamover import extents
from pmemtrack.virt.datamover import remote_process

# Buffers (32 MiB) the source is read ahead into while data is being sent:
# enough to read on while a new extent's daxio starts at the destination.
READ_AHEAD = 16
# A long run of zeros is passed on in parts, so progress keeps moving.
ZERO_REPORT = 256 * 1024 * 1024
_POLL_INTERVAL = 0.2
# Pipes of 1 MiB let each read and write move a whole buffer.
PIPE_SIZE = 1024 * 1024


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
        raise exception.CopyStepFailed(f"no progress for {timeout} seconds")


class LocalProcess:
    """A command here, with the interface of ``remote_process.RemoteProcess``; with
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
            raise exception.CopyStepFailed(
                f"{self.command} did not end within {timeout:.0f} s"
            )
        stdout = b"" if self._out is None else _read_back(self._out)
        return remote_process.Result(
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


class Source:
    """``daxio`` streaming a namespace into this process through a pipe.

    A thread reads ahead into READ_AHEAD buffers and sorts out the zeros, so
    reading the source goes on while the data is being sent.
    """

    def __init__(self, argv, env, timeout, size):
        self.timeout = timeout
        self.process = LocalProcess(argv, env, timeout, stream=True)
        self._free = queue.Queue()
        for _ in range(READ_AHEAD):
            self._free.put(bytearray(extents.GRANULE))
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
                raise exception.CopyStepFailed(
                    f"no progress for {self.timeout} seconds"
                )
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
            n = min(extents.GRANULE, size - offset)
            if self.process.readinto(memoryview(buf)[:n]) < n:
                self._ended_early()
            if extents.is_zero(buf, n):
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
        raise exception.CopyStepFailed("stopped")

    def _ended_early(self):
        result = self.process.wait(self.timeout)
        raise exception.CopyStepFailed(
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
