"""Progress of a namespace copy, logged and reported as it goes."""

import dataclasses
import time

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

PROGRESS_INTERVAL = 1.0


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


class Meter:
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
