"""SSH to a destination host, for streaming namespace data into its devices.

Key authentication only: no password, no agent, no keys picked up from
``~/.ssh``. The destination's host key is checked against
``[migration] known_hosts_file`` (see ``known_hosts``). The transport is
tuned for bulk data (see ``_transport``); commands run as
``remote_process.RemoteProcess`` channels.
"""

import dataclasses
import socket

import paramiko

from pmemtrack import exception
from pmemtrack.virt.datamover import known_hosts
from pmemtrack.virt.datamover import remote_process

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
    # Only the ciphers this paramiko knows (GCM arrived in paramiko 3.3).
    first = [c for c in PREFERRED_CIPHERS if c in options.ciphers]
    options.ciphers = [*first, *(c for c in options.ciphers if c not in first)]
    transport.packetizer.REKEY_BYTES = REKEY_LIMIT
    transport.packetizer.REKEY_PACKETS = REKEY_LIMIT
    return transport


def _load_key(settings, values):
    try:
        return paramiko.PKey.from_path(settings.key_file)
    except (OSError, paramiko.SSHException, ValueError) as err:
        raise exception.SSHConnectFailed(
            reason=f"cannot use private key {settings.key_file}: {err}", **values
        )


def connect(host, settings):
    """An authenticated ``Connection`` to ``host`` (an address or name)."""
    values = dict(user=settings.user, host=host, port=settings.port)
    key = _load_key(settings, values)
    client = paramiko.SSHClient()
    known_hosts.load_known_hosts(client, settings.known_hosts_file)
    client.set_missing_host_key_policy(
        known_hosts.POLICIES[settings.host_key_policy](settings, host)
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
        raise exception.HostKeyChanged(
            key_type=err.key.get_name(),
            fingerprint=err.key.fingerprint,
            expected=known_hosts.key_text(err.expected_key),
            known_hosts=settings.known_hosts_file,
            policy=settings.host_key_policy,
            **values,
        )
    except paramiko.AuthenticationException as err:
        raise exception.SSHAuthFailed(
            key_file=settings.key_file, reason=exception.text_of(err), **values
        )
    except (paramiko.SSHException, OSError, EOFError) as err:
        raise exception.SSHConnectFailed(reason=exception.text_of(err), **values)
    client.get_transport().set_keepalive(KEEPALIVE_INTERVAL)


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
        return remote_process.RemoteProcess(self, command, timeout)

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
