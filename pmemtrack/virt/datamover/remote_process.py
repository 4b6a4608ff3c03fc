"""A command running on the destination over one SSH channel."""

import collections
import time

import paramiko

from pmemtrack import exception
from pmemtrack.virt.datamover import gcm_writer

# How often a blocked read looks at the clock and at the connection.
_POLL_INTERVAL = 0.2
_READ_SIZE = 65536

Result = collections.namedtuple("Result", ["exit_status", "stdout", "stderr"])


class RemoteProcess:
    """A command running on the destination over one SSH channel."""

    def __init__(self, connection, command, timeout):
        self.connection = connection
        self.command = command
        self.timeout = timeout
        try:
            self.channel = connection.transport.open_session(timeout=timeout)
            self.channel.settimeout(timeout)
            self.channel.exec_command(command)
        except (paramiko.SSHException, OSError, EOFError, AttributeError) as err:
            raise self._lost(err)
        self._writer = gcm_writer.GcmWriter.for_channel(self.channel) or self.channel

    @property
    def batched(self):
        """True when stdin goes through GcmWriter's batches (AES-GCM, the
        paramiko releases setup.cfg allows), False on paramiko's own path."""
        return isinstance(self._writer, gcm_writer.GcmWriter)

    def _lost(self, err):
        return self.connection.error(
            exception.SSHConnectionLost,
            command=self.command,
            reason=exception.text_of(err),
        )

    def _timed_out(self, timeout):
        return self.connection.error(
            exception.SSHCommandTimedOut, command=self.command, timeout=timeout
        )

    def write(self, data):
        """Send ``data`` (bytes or memoryview) to the command's stdin.
        Returns False if the command has closed its end (it ended: ``wait``
        tells how)."""
        try:
            self._writer.sendall(data)
        except TimeoutError:
            raise self._timed_out(self.timeout)
        except (OSError, EOFError, paramiko.SSHException) as err:
            if self.channel.closed and not self._connection_lost():
                return False
            raise self._lost(err)
        return True

    def _connection_lost(self):
        if self.connection.active:
            # A dying transport closes its channels first and shows inactive
            # a moment later: give its thread that moment.
            self.connection.transport.join(_POLL_INTERVAL)
        return not self.connection.active

    def close_stdin(self):
        try:
            self.channel.shutdown_write()
        except (OSError, EOFError, paramiko.SSHException) as err:
            if not self.connection.active:
                raise self._lost(err)

    def poll(self):
        """True once the command has exited or its channel closed."""
        return self.channel.exit_status_ready()

    def wait(self, timeout):
        """Collect stdout and stderr to their end and the exit status."""
        deadline = time.monotonic() + timeout
        stdout, stderr = self._drain(deadline, timeout)
        while not self.channel.status_event.wait(_POLL_INTERVAL):
            self._check(deadline, timeout)
        # No exit status: killed by a signal (sshd reports that as
        # exit-signal, which paramiko drops) or the connection was lost.
        if self.channel.exit_status == -1 and self._connection_lost():
            raise self._lost(EOFError("the connection closed"))
        return Result(self.channel.exit_status, stdout, stderr)

    def _drain(self, deadline, timeout):
        stdout, stderr = bytearray(), bytearray()
        self.channel.settimeout(_POLL_INTERVAL)
        while True:
            while self.channel.recv_stderr_ready():
                stderr += self.channel.recv_stderr(_READ_SIZE)
            try:
                data = self.channel.recv(_READ_SIZE)
            except TimeoutError:
                self._check(deadline, timeout)
                continue
            if not data:
                break
            stdout += data
        # Extended data travels before EOF, so stderr is complete now.
        while self.channel.recv_stderr_ready():
            stderr += self.channel.recv_stderr(_READ_SIZE)
        return bytes(stdout), stderr.decode(errors="replace")

    def _check(self, deadline, timeout):
        if not self.connection.active:
            raise self._lost(EOFError("the connection closed"))
        if time.monotonic() > deadline:
            raise self._timed_out(timeout)

    def close(self):
        self.channel.close()

    abort = close
