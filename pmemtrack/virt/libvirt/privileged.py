"""ndctl, daxctl and daxio: the commands that touch PMEM devices.

Every run goes through ``run``, so a failure always names the command, its exit
code and what it printed on stderr. With ``[pmem] backend = simulated`` the same
calls run pmemtrack's stand-ins, which act like the real tools on regular files.
"""

import os
import shlex
import subprocess
import sys

from oslo_log import log as logging

from pmemtrack import exception
from pmemtrack.virt.libvirt import lease

LOG = logging.getLogger(__name__)

SIMULATED_ENV = "PMEMTRACK_SIMULATED_PATH"
_STANDINS = {
    "ndctl": "pmemtrack-sim-ndctl",
    "daxctl": "pmemtrack-sim-daxctl",
    "daxio": "pmemtrack-sim-daxio",
}


def run(argv, timeout, env=None):
    """Run ``argv``; return its stdout as text, or raise CommandFailed."""
    command = shlex.join(argv)
    LOG.debug("Running %s", command)
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            timeout=timeout,
            env=None if env is None else {**os.environ, **env},
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise exception.CommandTimedOut(
            command=command, exit_code=None, stderr="", timeout=timeout
        )
    except OSError as err:
        raise exception.CommandFailed(command=command, exit_code=None, stderr=err)
    if done.returncode != 0:
        raise exception.CommandFailed(
            command=command,
            exit_code=done.returncode,
            stderr=done.stderr.decode(errors="replace").strip() or "(nothing)",
        )
    return done.stdout.decode(errors="replace")


class Tools:
    """The tool paths and timeouts of one host, from ``[pmem]``."""

    def __init__(self, pmem_conf):
        self.simulated = pmem_conf.backend == "simulated"
        self.command_timeout = pmem_conf.command_timeout
        self.wipe_timeout = pmem_conf.wipe_timeout
        self.lease_dir = pmem_conf.lease_dir
        if self.simulated:
            self.root = os.path.abspath(pmem_conf.simulated_path)
            self.env = {SIMULATED_ENV: self.root}
            bindir = os.path.dirname(sys.executable)
            self.paths = {
                tool: os.path.join(bindir, standin)
                for tool, standin in _STANDINS.items()
            }
        else:
            self.root = None
            self.env = None
            self.paths = {
                "ndctl": pmem_conf.ndctl_path,
                "daxctl": pmem_conf.daxctl_path,
                "daxio": pmem_conf.daxio_path,
            }

    @property
    def device_dir(self):
        """Where the dax character devices live."""
        return os.path.join(self.root, "dev") if self.simulated else "/dev"

    def argv(self, tool, *args):
        return [self.paths[tool], *args]

    def remote_command(self, tool, *args):
        """A shell-quoted command line for running ``tool`` on another host,
        where the tools live at the same paths. (The simulated daxio finds the
        other host's simulated world from the device path it is given.)"""
        return shlex.join(self.argv(tool, *args))

    def lease_path(self, devpath):
        """The write lease of the dax device at ``devpath``, on its own host."""
        chardev = os.path.basename(devpath)
        if self.simulated:
            # The world of the device's own host: a destination's simulated
            # devices live under that host's root, not this one's.
            return os.path.join(os.path.dirname(os.path.dirname(devpath)),
                                "leases", chardev)  # fmt: skip
        return os.path.join(self.lease_dir, chardev)

    def fenced_daxio_argv(self, token, devpath, *args):
        """daxio writing ``devpath``, only while the device's lease holds
        ``token``."""
        return lease.writer_argv(
            self.lease_path(devpath), token, self.argv("daxio", *args)
        )

    def ndctl_list(self):
        # -X: devdax namespaces only; -v adds numa_node.
        return run(
            self.argv("ndctl", "list", "-X", "-v"), self.command_timeout, self.env
        )

    def ndctl_list_all(self):
        return run(
            self.argv("ndctl", "list", "-N", "-v"), self.command_timeout, self.env
        )

    def daxctl_list(self):
        return run(self.argv("daxctl", "list"), self.command_timeout, self.env)

    def zero(self, devpath):
        run(self.argv("daxio", "-z", "-o", devpath), self.wipe_timeout, self.env)
