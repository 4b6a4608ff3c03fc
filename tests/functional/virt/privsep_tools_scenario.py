"""The standalone service's PMEM tools through a real privsep daemon, in a
fresh interpreter (``python -m tests.functional.virt.privsep_tools_scenario
WORKDIR``): the client mode of the context is process-wide. Prints one JSON
object with what it saw."""

import json
import os
import sys
import types

from oslo_config import cfg

from pmemtrack import exception
from pmemtrack.privsep import pmem
from pmemtrack.sandbox import simulated
from pmemtrack.virt.libvirt import privileged

BINDIR = os.path.dirname(sys.executable)
MiB = 1024 * 1024


def _script(work, name, body):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


def _tools(work, **paths):
    return privileged.Tools(types.SimpleNamespace(
        backend="ndctl", command_timeout=30, wipe_timeout=60,
        lease_dir=os.path.join(work, "leases"),
        ndctl_path=paths.get("ndctl", os.path.join(BINDIR, "pmemtrack-sim-ndctl")),
        daxctl_path=os.path.join(BINDIR, "pmemtrack-sim-daxctl"),
        daxio_path=os.path.join(BINDIR, "pmemtrack-sim-daxio"),
    ))  # fmt: skip


def main(work):
    root = os.path.join(work, "host")
    simulated.ensure_root(root)
    # The daemon inherits this environment: the stand-ins find their world.
    os.environ[simulated.ENV_VAR] = root
    entry = simulated.create_namespace(root, "ns0", 4 * MiB)
    devpath = simulated.device_path(root, entry["daxregion"]["devices"][0]["chardev"])
    with open(devpath, "r+b") as f:
        f.write(b"tenant data" * 1000)
    cfg.CONF([], project="pmemtrack", default_config_files=[])
    cfg.CONF.set_override("helper_command", os.path.join(BINDIR, "privsep-helper"),
                          group="pmemtrack_pmem_admin")  # fmt: skip
    seen = {"service_pid": os.getpid()}
    try:
        tools = _tools(work)
        seen["listing"] = json.loads(tools.ndctl_list())
        tools.zero(devpath)
        with open(devpath, "rb") as f:
            seen["zeroed"] = not any(f.read())
        parent = _script(work, "ndctl-parent", 'echo "{\\"ppid\\": $PPID}"\n')
        seen["tool_parent"] = json.loads(_tools(work, ndctl=parent).ndctl_list())
        failing = _script(work, "ndctl-failing", "echo 'no such bus' >&2; exit 3\n")
        try:
            _tools(work, ndctl=failing).ndctl_list()
        except exception.CommandFailed as err:
            seen["failure"] = {"type": type(err).__name__, "message": str(err)}
    finally:
        pmem.pmem_admin.stop()
    print(json.dumps(seen))


if __name__ == "__main__":
    main(*sys.argv[1:])
