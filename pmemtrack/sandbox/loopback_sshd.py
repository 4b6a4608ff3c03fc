"""A private OpenSSH server on 127.0.0.1: the embedded default's SSH path for
copying namespace data between its simulated hosts, and the tests' and
benchmarks' real sshd.

Each ``SSHServer`` runs its own ``sshd -D`` from a private directory: its own
ed25519 host key, an authorized_keys file holding a freshly generated client
key, and a known_hosts file that trusts the host key under
``[127.0.0.1]:PORT``. Nothing outside that directory is read or changed,
except that sshd's privilege separation directory is created when missing.

    server = SSHServer(tmp_dir)
    server.start()
    ... server.port, server.client_key, server.known_hosts, server.user ...
    server.stop()
"""

import ctypes
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
import warnings

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "ssh-keygen"
ADDRESS = "127.0.0.1"
# sshd refuses to start without it; distributions create it at boot.
PRIVSEP_DIR = "/run/sshd"
START_TIMEOUT = 10
# prctl(2): the signal the kernel sends a process when its parent dies.
PR_SET_PDEATHSIG = 1
# The keys and the directory holding them are the owner's alone, whatever
# the umask (ssh-keygen writes private keys 0600 itself).
PRIVATE_DIR = 0o700

_CONFIG = """\
ListenAddress {address}
HostKey {host_key}
PidFile {pid_file}
AuthorizedKeysFile {authorized_keys}
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
LogLevel {log_level}
# Debian's bash sources ~/.bashrc for commands run over SSH unless it is a
# nested shell; the test user's rc file (pyenv, cargo) is not what a compute
# host's migration user runs, and would add ~100 ms to every command.
SetEnv SHLVL=1
"""


class SSHDUnavailable(Exception):
    """sshd or ssh-keygen cannot be run on this machine."""


def config_quote(value):
    """``value`` as one sshd_config argument: a path may hold spaces, quotes
    or '#', which would split it or end the line."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _prctl():
    """libc's prctl(2), or None where there is none (not Linux)."""
    try:
        # The program's own symbols include libc's: no library search.
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with_parent():
    """A preexec_fn: the child gets SIGTERM when this process dies, even by
    SIGKILL, where atexit and stop() never run.

    The kernel sends it when the *thread* that forked the child exits, not
    the process: start the server from the main thread (the CLI, the demo
    and the tests do), or sshd stops when the starting thread ends.
    """
    # Looked up here, in the parent: between fork and exec the child only
    # calls it.
    parent, prctl = os.getpid(), _prctl()

    def preexec():
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        # If the parent died between fork and prctl nobody sends the signal:
        # the orphan must not go on.
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def _spawn(argv, log):
    """Start ``argv`` (sshd -D) so that it stops when this process dies: on
    SIGTERM sshd closes its listener, and each session ends when its client,
    in a process of ours, is gone."""
    with warnings.catch_warnings():
        # A preexec_fn makes Python run the at-fork hooks, and the eventlet
        # that oslo imports warns from one against forking under eventlet:
        # nothing here runs eventlet, and the child execs at once.
        warnings.filterwarnings("ignore", "Using fork", DeprecationWarning, "eventlet")
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            preexec_fn=_die_with_parent(),
        )


def keygen(path, comment):
    """Write a new ed25519 key pair at ``path``; return the public key line."""
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
        check=True,
        capture_output=True,
    )
    with open(path + ".pub") as f:
        return f.read().strip()


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((ADDRESS, 0))
        return sock.getsockname()[1]


def _parents():
    """{pid: parent pid} of every process."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                # The command name may hold spaces and parentheses.
                parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return parents


def _descendants(pid):
    """Every live descendant of ``pid``, parents before their children."""
    children = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found, queue = [], [pid]
    while queue:
        kids = children.get(queue.pop(0), [])
        found.extend(kids)
        queue.extend(kids)
    return found


class SSHServer:
    """One sshd listening on 127.0.0.1 at a free port."""

    def __init__(self, directory, log_level="ERROR", extra_config=""):
        self.directory = os.path.abspath(os.fspath(directory))
        self.log_level = log_level
        self.extra_config = extra_config
        self.address = ADDRESS
        self.user = getpass.getuser()
        self.port = None
        self.process = None
        self.host_key = os.path.join(self.directory, "ssh_host_ed25519_key")
        self.client_key = os.path.join(self.directory, "client_ed25519_key")
        self.known_hosts = os.path.join(self.directory, "known_hosts")
        self.authorized_keys = os.path.join(self.directory, "authorized_keys")
        self.config = os.path.join(self.directory, "sshd_config")
        self.log_file = os.path.join(self.directory, "sshd.log")
        self.pid_file = os.path.join(self.directory, "sshd.pid")
        self.host_public_key = None

    # -- setup ----------------------------------------------------------------

    def _check_tools(self):
        if not os.access(SSHD, os.X_OK):
            raise SSHDUnavailable(f"{SSHD} is not installed")
        if shutil.which(SSH_KEYGEN) is None:
            raise SSHDUnavailable(f"{SSH_KEYGEN} is not installed")
        if not os.path.isdir(PRIVSEP_DIR):
            if os.geteuid() != 0:
                raise SSHDUnavailable(f"{PRIVSEP_DIR} is missing and we are not root")
            os.makedirs(PRIVSEP_DIR, mode=0o755, exist_ok=True)

    def _make_directory(self):
        if not os.path.isdir(self.directory):
            os.makedirs(self.directory)
            # makedirs' mode goes through the umask.
            os.chmod(self.directory, PRIVATE_DIR)

    def _write_files(self):
        self._make_directory()
        self.host_public_key = keygen(self.host_key, "pmemtrack-loopback-host")
        client_public = keygen(self.client_key, "pmemtrack-loopback-client")
        with open(self.authorized_keys, "w") as f:
            f.write(client_public + "\n")
        with open(self.config, "w") as f:
            f.write(
                _CONFIG.format(
                    address=self.address,
                    host_key=config_quote(self.host_key),
                    pid_file=config_quote(self.pid_file),
                    # sshd expands %-tokens (%h, %u) in this one.
                    authorized_keys=config_quote(
                        self.authorized_keys.replace("%", "%%")
                    ),
                    log_level=self.log_level,
                )
                + self.extra_config
            )

    def known_hosts_line(self):
        """The host key as a known_hosts line for this server's port."""
        key_type, key_data = self.host_public_key.split()[:2]
        return f"[{self.address}]:{self.port} {key_type} {key_data}\n"

    def write_known_hosts(self, path=None):
        path = path or self.known_hosts
        with open(path, "w") as f:
            f.write(self.known_hosts_line())
        return path

    # -- running --------------------------------------------------------------

    def start(self):
        self._check_tools()
        self._write_files()
        # Another process may grab the port between our probe and sshd's
        # bind: try a few ports before giving up.
        for _ in range(5):
            self.port = _free_port()
            if self._launch():
                self.write_known_hosts()
                return self
        raise SSHDUnavailable(f"sshd did not start: {self._log_tail()}")

    def _launch(self):
        argv = [SSHD, "-D", "-e", "-f", self.config, "-p", str(self.port)]
        with open(self.log_file, "ab") as log:
            self.process = _spawn(argv, log)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            # sshd writes its pid file once it listens; the port alone could
            # be another process's.
            if self._pid_written() and self._accepts():
                return True
            time.sleep(0.05)
        self._terminate()
        return False

    def _pid_written(self):
        try:
            with open(self.pid_file) as f:
                return f.read().strip() == str(self.process.pid)
        except OSError:
            return False

    def _accepts(self):
        try:
            socket.create_connection((self.address, self.port), 0.5).close()
            return True
        except OSError:
            return False

    def _log_tail(self):
        try:
            with open(self.log_file, errors="replace") as f:
                return f.read()[-2000:].strip() or "(no output)"
        except OSError:
            return "(no log)"

    def session_pids(self):
        """The processes serving connections: sshd's children and below."""
        if self.process is None or self.process.poll() is not None:
            return []
        return _descendants(self.process.pid)

    def kill_connections(self, sig=signal.SIGKILL):
        """Send ``sig`` to every process serving a connection: SIGKILL ends
        them as a crash or a network cut would, SIGSTOP freezes them as a
        hung host would. sshd itself keeps listening. Returns the pids."""
        pids = self.session_pids()
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        return pids

    def _terminate(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def stop(self):
        self.kill_connections(signal.SIGCONT)
        self.kill_connections()
        self._terminate()
