"""SSH to a destination host, for streaming namespace data into its devices.

Key authentication only: no password, no agent, no keys picked up from
``~/.ssh``. The destination's host key is checked against
``[migration] known_hosts_file``; what happens to an unknown key follows
``host_key_policy``, and a key that differs from the known one is always
refused. The transport is tuned for bulk data (see ``_transport``).
"""

import collections
import dataclasses
import fcntl
import os
import socket
import time

from oslo_log import log as logging
import paramiko

from pmemtrack import exception

LOG = logging.getLogger(__name__)

# AES-GCM runs on the CPU's AES instructions and needs no separate MAC; on
# loopback it moves 20-40% more than chacha20 or aes-ctr with HMAC.
PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
# paramiko rekeys every 512 MiB and can hang for 30 s when a channel closes
# during a rekey (paramiko #822); 2**36 is OpenSSH's own limit for AES.
REKEY_LIMIT = 2**36
# What we receive (command output) flows best with a large window and large
# packets; what we send is shaped by the window the destination's sshd offers.
WINDOW_SIZE = 16 * 1024 * 1024
MAX_PACKET_SIZE = 256 * 1024
# Keepalives keep firewalls and NAT from dropping a connection that is quiet
# while the destination checksums a large namespace.
KEEPALIVE_INTERVAL = 15
# How often a blocked read looks at the clock and at the connection.
_POLL_INTERVAL = 0.2
_READ_SIZE = 65536

Result = collections.namedtuple("Result", ["exit_status", "stdout", "stderr"])


class SSHError(exception.PmemtrackException):
    msg_fmt = "SSH to %(user)s@%(host)s port %(port)s failed: %(reason)s"


class SSHConnectFailed(SSHError):
    msg_fmt = "Cannot connect over SSH to %(user)s@%(host)s port %(port)s: %(reason)s"


class SSHAuthFailed(SSHConnectFailed):
    msg_fmt = (
        "%(user)s@%(host)s port %(port)s did not accept the key %(key_file)s: "
        "%(reason)s. Add its public key to that user's authorized_keys."
    )


class HostKeyRejected(SSHError):
    msg_fmt = (
        "Refusing %(user)s@%(host)s port %(port)s: its host key %(key_type)s "
        "%(fingerprint)s is not in %(known_hosts)s and [migration] "
        "host_key_policy is %(policy)s. Add the host's key to that file."
    )


class HostKeyChanged(HostKeyRejected):
    msg_fmt = (
        "Refusing %(user)s@%(host)s port %(port)s: it presented host key "
        "%(key_type)s %(fingerprint)s but %(known_hosts)s holds %(expected)s for "
        "it. Someone may be intercepting the connection; if the host was "
        "reinstalled, replace its entry in that file."
    )


class SSHConnectionLost(SSHError):
    msg_fmt = (
        "The SSH connection to %(user)s@%(host)s port %(port)s was lost while "
        "running %(command)s: %(reason)s"
    )


class SSHCommandTimedOut(SSHError):
    msg_fmt = (
        "%(command)s on %(user)s@%(host)s port %(port)s made no progress for "
        "%(timeout)s seconds"
    )


@dataclasses.dataclass(frozen=True)
class Settings:
    """How to reach destinations; ``from_conf`` reads ``[migration]``."""

    user: str
    key_file: str
    known_hosts_file: str
    port: int = 22
    host_key_policy: str = "reject"
    connect_timeout: float = 30

    @classmethod
    def from_conf(cls, migration_conf):
        return cls(
            user=migration_conf.ssh_user,
            key_file=migration_conf.ssh_key_file,
            known_hosts_file=migration_conf.known_hosts_file,
            port=migration_conf.ssh_port,
            host_key_policy=migration_conf.host_key_policy,
            connect_timeout=migration_conf.connect_timeout,
        )


# -- host keys ----------------------------------------------------------------


def _key_text(key):
    return f"{key.get_name()} {key.fingerprint}"


class _Policy(paramiko.MissingHostKeyPolicy):
    """Called by paramiko for a host with no key of the offered type."""

    def __init__(self, settings, host):
        self.settings = settings
        self.host = host

    def _values(self, key, **extra):
        return dict(
            user=self.settings.user,
            host=self.host,
            port=self.settings.port,
            key_type=key.get_name(),
            fingerprint=key.fingerprint,
            known_hosts=self.settings.known_hosts_file,
            policy=self.settings.host_key_policy,
            **extra,
        )

    def missing_host_key(self, client, hostname, key):
        # A host known under another key type changed its key all the same.
        known = client.get_host_keys().lookup(hostname)
        if known:
            expected = ", ".join(_key_text(k) for k in known.values())
            raise HostKeyChanged(**self._values(key, expected=expected))
        self.unknown(client, hostname, key)

    def unknown(self, client, hostname, key):
        raise NotImplementedError


class RejectPolicy(_Policy):
    def unknown(self, client, hostname, key):
        raise HostKeyRejected(**self._values(key))


class WarnPolicy(_Policy):
    def unknown(self, client, hostname, key):
        LOG.warning(
            "Accepting unknown host key %s of %s (not saved): host_key_policy is warn",
            _key_text(key),
            hostname,
        )


class AutoAddPolicy(_Policy):
    def unknown(self, client, hostname, key):
        LOG.warning(
            "Adding unknown host key %s of %s to %s: host_key_policy is auto-add",
            _key_text(key),
            hostname,
            self.settings.known_hosts_file,
        )
        client.get_host_keys().add(hostname, key.get_name(), key)
        _append_known_host(self.settings.known_hosts_file, hostname, key)


POLICIES = {"reject": RejectPolicy, "warn": WarnPolicy, "auto-add": AutoAddPolicy}


def _append_known_host(path, hostname, key):
    """Append one entry; the operator's other lines and comments stay as
    they are (paramiko's save would rewrite the whole file)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    line = paramiko.hostkeys.HostKeyEntry([hostname], key).to_line()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as f:
        # Two copies learning keys at once must not interleave their lines.
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(line)


def _load_known_hosts(client, path):
    try:
        client.get_host_keys().load(path)
    except FileNotFoundError:
        # No file: every host is unknown, which the policy decides about.
        pass


# -- connecting ---------------------------------------------------------------


def _transport(sock, **kwargs):
    # paramiko writes whole packets; Nagle would hold back a small request
    # (opening a channel, EOF) until the peer's delayed ACK, 40 ms later.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    transport = paramiko.Transport(
        sock,
        default_window_size=WINDOW_SIZE,
        default_max_packet_size=MAX_PACKET_SIZE,
        **kwargs,
    )
    options = transport.get_security_options()
    others = [c for c in options.ciphers if c not in PREFERRED_CIPHERS]
    options.ciphers = [*PREFERRED_CIPHERS, *others]
    transport.packetizer.REKEY_BYTES = REKEY_LIMIT
    transport.packetizer.REKEY_PACKETS = REKEY_LIMIT
    return transport


def _load_key(settings, values):
    try:
        return paramiko.PKey.from_path(settings.key_file)
    except (OSError, paramiko.SSHException, ValueError) as err:
        raise SSHConnectFailed(
            reason=f"cannot use private key {settings.key_file}: {err}", **values
        )


def connect(host, settings):
    """An authenticated ``Connection`` to ``host`` (an address or name)."""
    values = dict(user=settings.user, host=host, port=settings.port)
    key = _load_key(settings, values)
    client = paramiko.SSHClient()
    _load_known_hosts(client, settings.known_hosts_file)
    client.set_missing_host_key_policy(
        POLICIES[settings.host_key_policy](settings, host)
    )
    try:
        _connect_client(client, host, settings, key, values)
    except BaseException:
        client.close()
        raise
    return Connection(client, host, settings)


def _connect_client(client, host, settings, key, values):
    timeout = settings.connect_timeout
    try:
        client.connect(
            host,
            port=settings.port,
            username=settings.user,
            pkey=key,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            channel_timeout=timeout,
            allow_agent=False,
            look_for_keys=False,
            transport_factory=_transport,
        )
    except paramiko.BadHostKeyException as err:
        raise HostKeyChanged(
            key_type=err.key.get_name(),
            fingerprint=err.key.fingerprint,
            expected=_key_text(err.expected_key),
            known_hosts=settings.known_hosts_file,
            policy=settings.host_key_policy,
            **values,
        )
    except paramiko.AuthenticationException as err:
        raise SSHAuthFailed(key_file=settings.key_file, reason=_why(err), **values)
    except (paramiko.SSHException, OSError, EOFError) as err:
        raise SSHConnectFailed(reason=_why(err), **values)
    client.get_transport().set_keepalive(KEEPALIVE_INTERVAL)


def _why(err):
    return str(err) or type(err).__name__


class Connection:
    """One authenticated SSH connection; commands run on it as channels."""

    def __init__(self, client, host, settings):
        self.client = client
        self.host = host
        self.port = settings.port
        self.user = settings.user

    @property
    def transport(self):
        return self.client.get_transport()

    @property
    def active(self):
        transport = self.transport
        return transport is not None and transport.is_active()

    def error(self, cls, **kwargs):
        """``cls`` filled with where this connection goes."""
        return cls(user=self.user, host=self.host, port=self.port, **kwargs)

    def start(self, command, timeout):
        """Start ``command`` (a shell command line: quote every argument);
        ``timeout`` bounds each wait for the remote side."""
        return RemoteProcess(self, command, timeout)

    def exec(self, command, timeout, stdin=None):
        """Run ``command`` to its end, feeding it ``stdin`` (bytes or an
        iterable of buffers); return its ``Result``. A non-zero exit status
        is returned, not raised."""
        process = self.start(command, timeout)
        try:
            for chunk in [stdin] if isinstance(stdin, bytes) else stdin or ():
                if not process.write(chunk):
                    break
            process.close_stdin()
            return process.wait(timeout)
        finally:
            process.close()

    def close(self):
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


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

    def _lost(self, err):
        return self.connection.error(
            SSHConnectionLost, command=self.command, reason=_why(err)
        )

    def _timed_out(self, timeout):
        return self.connection.error(
            SSHCommandTimedOut, command=self.command, timeout=timeout
        )

    def write(self, data):
        """Send ``data`` (bytes or memoryview) to the command's stdin.
        Returns False if the command has closed its end (it ended: ``wait``
        tells how)."""
        try:
            self.channel.sendall(data)
        except TimeoutError:
            raise self._timed_out(self.timeout)
        except (OSError, EOFError, paramiko.SSHException) as err:
            if self.connection.active and self.channel.closed:
                return False
            raise self._lost(err)
        return True

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
        if not self.channel.exit_status_ready() or (
            self.channel.exit_status == -1 and not self.connection.active
        ):
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
