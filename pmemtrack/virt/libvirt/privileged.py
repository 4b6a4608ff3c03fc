"""ndctl, daxctl and daxio: the commands that touch PMEM devices.

The real tools run in the ``pmem_admin`` privsep daemon (``pmemtrack.privsep``);
every failure names the command, its exit code and what it printed on stderr.
With ``[pmem] backend = simulated`` the same calls run pmemtrack's stand-ins,
which act like the real tools on regular files of the service's own state
directory: they need no privilege and run in the service's process.
"""

import importlib
import os
import shlex
import subprocess
import sys

from oslo_concurrency import processutils
from oslo_log import log as logging

from pmemtrack import exception
from pmemtrack.privsep import commands
from pmemtrack.virt.libvirt import lease

LOG = logging.getLogger(__name__)

SIMULATED_ENV = "PMEMTRACK_SIMULATED_PATH"
_STANDINS = {
    "ndctl": "pmemtrack-sim-ndctl",
    "daxctl": "pmemtrack-sim-daxctl",
    "daxio": "pmemtrack-sim-daxio",
}


def _run(entrypoint, argv, timeout, *args):
    """``entrypoint(*args)``, which runs ``argv``; its stdout, or
    CommandFailed / CommandTimedOut naming the command."""
    command = shlex.join(argv)
    LOG.debug("Running %s", command)
    try:
        return entrypoint(*args)
    except subprocess.TimeoutExpired:
        raise exception.CommandTimedOut(
            command=command, exit_code=None, stderr="", timeout=timeout
        )
    except processutils.ProcessExecutionError as err:
        raise exception.CommandFailed(
            command=command,
            exit_code=err.exit_code,
            stderr=(err.stderr or "").strip() or "(nothing)",
        )
    except OSError as err:
        raise exception.CommandFailed(command=command, exit_code=None, stderr=err)


class Tools:
    """The tool paths and timeouts of one host, from ``[pmem]``."""

    def __init__(self, pmem_conf):
        self.simulated = pmem_conf.backend == "simulated"
        self.command_timeout = pmem_conf.command_timeout
        self.wipe_timeout = pmem_conf.wipe_timeout
        self.lease_dir = pmem_conf.lease_dir
        if self.simulated:
            self.commands = commands
            self.root = os.path.abspath(pmem_conf.simulated_path)
            self.env = {SIMULATED_ENV: self.root}
            bindir = os.path.dirname(sys.executable)
            self.paths = {
                tool: os.path.join(bindir, standin)
                for tool, standin in _STANDINS.items()
            }
        else:
            # Imported here: oslo.privsep brings eventlet along, which a
            # simulated host never needs.
            self.commands = importlib.import_module("pmemtrack.privsep.pmem")
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

    def _list(self, *flags):
        argv = self.argv("ndctl", "list", *flags)
        timeout = self.command_timeout
        return _run(self.commands.ndctl_list, argv, timeout,
                    self.paths["ndctl"], flags, timeout, self.env)  # fmt: skip

    def ndctl_list(self):
        # -X: devdax namespaces only; -v adds numa_node.
        return self._list("-X", "-v")

    def ndctl_list_all(self):
        return self._list("-N", "-v")

    def daxctl_list(self):
        argv, timeout = self.argv("daxctl", "list"), self.command_timeout
        return _run(self.commands.daxctl_list, argv, timeout,
                    self.paths["daxctl"], timeout, self.env)  # fmt: skip

    def zero(self, devpath):
        argv, timeout = self.argv("daxio", "-z", "-o", devpath), self.wipe_timeout
        _run(self.commands.zero, argv, timeout,
             self.paths["daxio"], devpath, timeout, self.env)  # fmt: skip
