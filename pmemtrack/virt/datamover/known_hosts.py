"""Checking a destination's host key against ``known_hosts_file``.

What happens to an unknown key follows ``[migration] host_key_policy``; a
key that differs from the known one is always refused.
"""

import abc
import fcntl
import os

from oslo_log import log as logging
import paramiko

from pmemtrack import exception

LOG = logging.getLogger(__name__)


def key_text(key):
    return f"{key.get_name()} {key.fingerprint}"


class _Policy(paramiko.MissingHostKeyPolicy, metaclass=abc.ABCMeta):
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
            expected = ", ".join(key_text(k) for k in known.values())
            raise exception.HostKeyChanged(**self._values(key, expected=expected))
        self.unknown(client, hostname, key)

    @abc.abstractmethod
    def unknown(self, client, hostname, key):
        """What the policy does with a host whose key is not known."""


class RejectPolicy(_Policy):
    def unknown(self, client, hostname, key):
        raise exception.HostKeyRejected(**self._values(key))


class WarnPolicy(_Policy):
    def unknown(self, client, hostname, key):
        LOG.warning(
            "Accepting unknown host key %s of %s (not saved): host_key_policy is warn",
            key_text(key),
            hostname,
        )


class AutoAddPolicy(_Policy):
    def unknown(self, client, hostname, key):
        LOG.warning(
            "Adding unknown host key %s of %s to %s: host_key_policy is auto-add",
            key_text(key),
            hostname,
            self.settings.known_hosts_file,
        )
        client.get_host_keys().add(hostname, key.get_name(), key)
        append_known_host(self.settings.known_hosts_file, hostname, key)


POLICIES = {"reject": RejectPolicy, "warn": WarnPolicy, "auto-add": AutoAddPolicy}


def append_known_host(path, hostname, key):
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


def load_known_hosts(client, path):
    try:
        client.get_host_keys().load(path)
    except FileNotFoundError:
        # No file: every host is unknown, which the policy decides about.
        pass
