"""The PMEM tool runs, each with the arguments it may take and no others,
through oslo.concurrency's processutils. ``pmem`` runs them in the privsep
daemon; the simulated stand-ins run them here.

A failure is processutils.ProcessExecutionError (exit code, stderr),
subprocess.TimeoutExpired or OSError; ``virt.libvirt.privileged`` turns them
into pmemtrack's CommandFailed / CommandTimedOut.
"""

import os

from oslo_concurrency import processutils

# ``ndctl list`` of the devdax namespaces (-X) or of all (-N), verbose (-v:
# numa_node).
LIST_FLAGS = (("-X", "-v"), ("-N", "-v"))


def _execute(argv, timeout, env):
    # processutils replaces the environment when given one: keep the
    # process's own (PATH and the rest) under what the caller adds.
    environment = None if env is None else {**os.environ, **env}
    out, _err = processutils.execute(*argv, timeout=timeout,
                                     env_variables=environment)  # fmt: skip
    return out


def ndctl_list(ndctl, flags, timeout, env=None):
    """The JSON ``ndctl list`` prints with ``flags`` (one of LIST_FLAGS)."""
    if tuple(flags) not in LIST_FLAGS:
        raise ValueError(f"ndctl list takes one of {LIST_FLAGS}, not {flags}")
    return _execute([ndctl, "list", *flags], timeout, env)


def daxctl_list(daxctl, timeout, env=None):
    """The JSON ``daxctl list`` prints (CXL memory exposed as dax devices)."""
    return _execute([daxctl, "list"], timeout, env)


def zero(daxio, devpath, timeout, env=None):
    """Zero the whole dax device at ``devpath`` (``daxio -z -o``)."""
    if not os.path.isabs(devpath):
        raise ValueError(f"a device path must be absolute, not {devpath!r}")
    _execute([daxio, "-z", "-o", devpath], timeout, env)
