"""Write leases: the fence between a data copy and the wipe of its namespace.

Each dax device has a lease file on its host. A copy's writer (``daxio -o``,
started over SSH or locally) runs under ``flock --shared`` on that file and
first checks that the file holds its migration's token; a wipe takes the file
with ``flock --exclusive`` (without waiting), empties it and keeps it locked
until the namespace is zeroed and back in the pool. So:

- a writer still running (a stalled destination, a copy whose source gave up)
  holds the shared lock: the wipe fails, the namespace stays dirty and is
  wiped by a later pass, once that writer has ended;
- a writer that starts after the wipe (its SSH session was frozen before it
  ran) finds the token gone and refuses to write a byte.

The file is never removed or replaced, so every process locks the same inode.
"""

import contextlib
import errno
import fcntl
import os

from pmemtrack import exception

# Run by ``flock --shared LEASE sh -c FENCE_SCRIPT fence LEASE TOKEN CMD...``:
# the lease's content is compared under the shared lock, then the writer
# replaces the shell and inherits the lock for as long as it runs.
FENCE_SCRIPT = (
    "lease=$1; token=$2; shift 2; "
    'if [ "$(cat "$lease")" != "$token" ]; then '
    'echo "daxio: write lease $lease does not hold $token (revoked or never '
    'granted): refusing to write" >&2; exit 1; fi; exec "$@"'
)


def writer_argv(lease_path, token, argv):
    """``argv`` (a writer) fenced by the lease at ``lease_path``."""
    return ["flock", "--shared", lease_path, "sh", "-c", FENCE_SCRIPT, "fence",
            lease_path, token, *argv]  # fmt: skip


# The same grant and revoke as ``grant``/``exclusive`` below, as commands for
# another host (run there over SSH): ``flock --nonblock --exclusive`` fails at
# once while a writer holds the lease, and the file is truncated, never
# replaced, so every process keeps locking the same inode.
_GRANT_SCRIPT = (
    'mkdir -p "$(dirname "$0")" && '
    'flock --nonblock --exclusive "$0" sh -c \'printf %s "$1" > "$0"\' "$0" "$1"'
)
_REVOKE_SCRIPT = (
    'flock --nonblock --exclusive "$0" sh -c \': > "$0"; exec "$@"\' "$0" "$@"'
)


def grant_argv(lease_path, token):
    """A command granting ``token`` the lease, on the lease's host."""
    return ["sh", "-c", _GRANT_SCRIPT, lease_path, token]


def revoke_argv(lease_path, argv):
    """A command revoking the lease (no writer left, none may start) and then
    running ``argv`` (a wipe) while still holding it, on the lease's host."""
    return ["sh", "-c", _REVOKE_SCRIPT, lease_path, *argv]


def holds_token(lease_path):
    """True if a copy was granted the lease and it was never revoked."""
    try:
        with open(lease_path) as lease:
            return bool(lease.read().strip())
    except FileNotFoundError:
        return False


def _open(lease_path):
    os.makedirs(os.path.dirname(lease_path), mode=0o755, exist_ok=True)
    # Readable by the migration user, whose writers lock and read it.
    fd = os.open(lease_path, os.O_RDWR | os.O_CREAT, 0o644)
    os.fchmod(fd, 0o644)
    return fd


@contextlib.contextmanager
def exclusive(lease_path, name, devpath):
    """Hold the lease exclusively, revoked (emptied), or raise NamespaceBusy
    at once if a writer holds it."""
    fd = _open(lease_path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            raise exception.NamespaceBusy(name=name, devpath=devpath, fence=lease_path)
        os.ftruncate(fd, 0)
        yield
    finally:
        os.close(fd)


def grant(lease_path, name, devpath, token):
    """Let writers that present ``token`` write the namespace."""
    with exclusive(lease_path, name, devpath):
        fd = os.open(lease_path, os.O_WRONLY)
        try:
            os.write(fd, token.encode())
        finally:
            os.close(fd)


def revoke(lease_path, name, devpath):
    """No writer may start any more; NamespaceBusy if one still runs."""
    with exclusive(lease_path, name, devpath):
        pass
