"""Scenarios run through a real oslo.privsep daemon, each in a fresh
interpreter (``python -m tests.nova.privsep_scenarios NAME WORKDIR``): Nova's
test package monkey-patches with eventlet, under which a privsep client
cannot start its daemon, so test_privileged_daemon.py runs these apart.
Prints one JSON object with what the scenario saw."""

import json
import os
import sys

from oslo_config import cfg

from pmemtrack.nova import data_copy
from pmemtrack.nova import privileged
from pmemtrack.sandbox import simulated

MiB = 1024 * 1024
PATTERN = b"copied by the privileged daemon " * 4096
BINDIR = os.path.dirname(sys.executable)


class Options:
    def __init__(self, work):
        self.command_timeout, self.wipe_timeout = 60, 600
        self.stall_timeout, self.chunk_size = 30, 1024 * 1024
        self.parallel_streams = 1
        self.ssh_user = self.ssh_key_file = self.known_hosts_file = None
        self.ssh_port, self.host_key_policy, self.connect_timeout = 22, "reject", 30
        self.lease_dir = os.path.join(work, "leases")
        self.daxio_path = os.path.join(BINDIR, "pmemtrack-sim-daxio")
        self.daxctl_path = os.path.join(BINDIR, "pmemtrack-sim-daxctl")


class Device:
    def __init__(self, root, entry):
        chardev = entry["daxregion"]["devices"][0]["chardev"]
        self.name, self.label = entry["name"], "L"
        self.devpath = simulated.device_path(root, chardev)
        self.size, self.align = entry["size"], entry["daxregion"]["align"]


def _devices(root):
    old = Device(root, simulated.create_namespace(root, "ns_old", 4 * MiB))
    new = Device(root, simulated.create_namespace(root, "ns_new", 8 * MiB))
    return old, new


def daxctl(root, options):
    simulated.create_dax_device(root, 2 * MiB)
    return {"listing": privileged.daxctl_list(options.daxctl_path, 30)}


def copy(root, options):
    old, new = _devices(root)
    with open(old.devpath, "r+b") as f:
        f.write(PATTERN)
    request = data_copy.request([(old, new)], "127.0.0.1", True, "move-1", options)
    (result,) = privileged.copy_namespaces(request)
    with open(new.devpath, "rb") as f:
        arrived = f.read(len(PATTERN)) == PATTERN
    return {"result": result, "arrived": arrived}


def failed_copy(root, options):
    old, new = _devices(root)
    with open(new.devpath, "r+b") as f:
        f.write(b"left over")
    failing = os.path.join(os.path.dirname(root), "daxio-failing-writes")
    with open(failing, "w") as f:
        f.write(
            "#!/bin/sh\n"
            'case " $* " in *" -s "*) echo "daxio: write failed" >&2; exit 1;; esac\n'
            f'exec {options.daxio_path} "$@"\n'
        )
    os.chmod(failing, 0o755)
    options.daxio_path = failing
    request = data_copy.request([(old, new)], "127.0.0.1", True, "move-1", options)
    try:
        privileged.copy_namespaces(request)
    except Exception as err:  # the type the daemon rebuilds
        error = str(err)
    else:
        error = None
    with open(new.devpath, "rb") as f:
        zeroed = not any(f.read())
    return {"error": error, "zeroed": zeroed}


def main(name, work):
    root = os.path.join(work, "host")
    simulated.ensure_root(root)
    # The daemon inherits this environment when it starts.
    os.environ[simulated.ENV_VAR] = root
    cfg.CONF([], project="nova")
    cfg.CONF.set_override(
        "helper_command",
        os.path.join(BINDIR, "privsep-helper"),
        group="pmemtrack_privileged",
    )
    privileged.dax_admin_pctxt.set_client_mode(True)
    try:
        seen = globals()[name](root, Options(work))
    finally:
        privileged.dax_admin_pctxt.stop()
    print(json.dumps(seen))


if __name__ == "__main__":
    main(*sys.argv[1:])
