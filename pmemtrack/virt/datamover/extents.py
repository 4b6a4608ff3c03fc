"""The runs of data written into a destination namespace.

A destination namespace is known to hold only zeros, so only the extents
holding data are written, each by its own daxio.
"""

from pmemtrack import exception
from pmemtrack.virt.datamover import daxio_report

# Zeros are found 2 MiB at a time: the usual devdax alignment, and a size at
# which comparing with a zero buffer costs about 40 ms per GiB.
GRANULE = 2 * 1024 * 1024
ZEROS = bytes(GRANULE)
# Each extent costs a channel, a shell and a daxio started at the
# destination: 37 ms measured with the simulated daxio (a Python program),
# a few ms with the real one. At 400-600 MB/s, 16 MiB of zeros cross in
# 25-40 ms: shorter runs of zeros between data are cheaper to send.
ZERO_GAP = 16 * 1024 * 1024
# Extents whose daxio is still finishing; sshd allows 10 sessions per
# connection by default (MaxSessions).
MAX_PENDING = 4


def is_zero(buf, n):
    return buf.startswith(ZEROS if n == GRANULE else ZEROS[:n])


class Extents:
    """The runs of data written into one destination namespace, each by its
    own daxio; runs of zeros shorter than ZERO_GAP are written too.

    ``open_sink(offset, length)`` starts the writer of one run (a daxio
    writing its stdin into the namespace from ``offset``); ``where`` names
    the destination in errors.
    """

    def __init__(self, open_sink, size, chunk_size, stall_timeout, where):
        self.open_sink = open_sink
        self.size = size
        self.chunk_size = chunk_size
        self.stall_timeout = stall_timeout
        self.where = where
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
            self._write(memoryview(ZEROS)[:n])
            self.gap -= n
        self._write(view)

    def _start(self, offset):
        self._reap(MAX_PENDING - 1)
        # Where the run ends is unknown while the source streams by, so -l
        # is where the copied data ends; daxio stops at our EOF and reports
        # what it copied, which must be what we sent.
        self.sink = self.open_sink(offset, self.size - offset)
        self.sink_sent = 0
        self.count += 1

    def _write(self, view):
        step = self.chunk_size
        for start in range(0, len(view), step):
            piece = view[start : start + step]
            if not self.sink.write(piece):
                self._stopped()
            self.sink_sent += len(piece)
        self.sent += len(view)

    def _stopped(self):
        result = self.sink.wait(self.stall_timeout)
        daxio_report.check_daxio(result, None, self.where)
        raise exception.CopyStepFailed(
            f"daxio on {self.where} stopped reading after "
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
                result = sink.wait(self.stall_timeout)
            finally:
                sink.abort()
            daxio_report.check_daxio(result, expected, self.where)

    def finish(self):
        if self.sink is not None:
            self._end()
        self._reap(0)

    def abort(self):
        for sink in [self.sink, *(sink for sink, _ in self.pending)]:
            if sink is not None:
                sink.abort()
