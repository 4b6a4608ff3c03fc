"""The ways an SSH connection to a destination host fails."""

from pmemtrack import exception


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


def why(err):
    """The text of ``err``, or its type where it has none."""
    return str(err) or type(err).__name__
