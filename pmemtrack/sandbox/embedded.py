"""The embedded default: a SQLite DB under a state directory and two compute
hosts with simulated namespaces of two labels on libvirt's test driver, all on
this machine, running the production code paths (``pmemtrack demo`` and the
``pmemtrack`` CLI without a config file).
"""

import os
import shutil
import stat
import subprocess
import tempfile
import urllib.parse

from oslo_config import cfg
from oslo_log import log as logging

from pmemtrack import conf as pmt_conf
from pmemtrack import context as pmt_context
from pmemtrack import deployment
from pmemtrack.compute import manager as compute_manager
from pmemtrack.db import api as db_api
from pmemtrack.sandbox import flavors
from pmemtrack.sandbox import loopback_sshd
from pmemtrack.sandbox import simulated
from pmemtrack.virt.libvirt import driver as libvirt_driver

LOG = logging.getLogger(__name__)
MiB = 1024 * 1024
EMBEDDED_HOSTS = ("compute1", "compute2")
# label -> (namespaces on host NUMA node 0, on node 1), and their size.
EMBEDDED_LAYOUT = {"MEDIUM": ((2, 2), 64 * MiB), "LARGE": ((1, 1), 128 * MiB)}
# A libvirt test-driver node file: each host gets a private hypervisor, where
# test:///default would be shared by every host in the process.
_NODE_XML = "<node><cpu><mhz>2000</mhz></cpu></node>\n"
DB_FILE = "pmemtrack.sqlite"
# The state directory holds the DB and guest data (the simulated devices):
# its owner's alone, whatever the umask. Each of its directories is 0700.
PRIVATE_DIR = 0o700


def libvirt_test_uri(node_xml):
    """libvirt's test-driver URI for a node file. libvirt parses it as a URI
    and decodes the path: a space or '%' would not parse, a '#' or '?' would
    end the path."""
    return "test://" + urllib.parse.quote(os.path.abspath(node_xml))


def _override(conf, name, value, group=None):
    # oslo.config expands "$name" in overrides too: a state directory such as
    # "/srv/$x" must stay that path.
    conf.set_override(name, pmt_conf.literal(value), group=group)


def host_conf(state_path, host, namespaces, uri=None, migration=None):
    """A ConfigOpts for one simulated host."""
    conf = cfg.ConfigOpts()
    pmt_conf.register_opts(conf)
    conf([], default_config_files=[])
    _override(conf, "host", host)
    _override(conf, "state_path", str(state_path))
    _override(conf, "backend", "simulated", group="pmem")
    _override(conf, "namespaces", namespaces, group="pmem")
    if uri is None:
        node_xml = os.path.join(state_path, "node.xml")
        if not os.path.exists(node_xml):
            with open(node_xml, "w") as f:
                f.write(_NODE_XML)
        uri = libvirt_test_uri(node_xml)
    _override(conf, "connection_uri", uri, group="libvirt")
    for name, value in (migration or {}).items():
        _override(conf, name, value, group="migration")
    return conf


def simulated_namespaces(root, host, layout):
    """Create (once) the host's simulated namespaces; return the config entries.
    ``layout``: {label: ((count per NUMA node...), size)}."""
    existing = {ns.get("name") for ns in simulated.load_namespaces(root)}
    entries, index = [], 0
    for label, (counts, size) in layout.items():
        names = []
        for numa_node, count in enumerate(counts):
            for _ in range(count):
                name = f"{host}-ns{index}"
                if name not in existing:
                    simulated.create_namespace(root, name, size, numa_node=numa_node)
                names.append(name)
                index += 1
        entries.append(f"{label}:{'|'.join(names)}")
    return entries


def simulated_host(state_dir, host, layout, address="127.0.0.1", migration=None,
                   uri=None):  # fmt: skip
    """A ComputeManager for a simulated host under ``state_dir/host``."""
    state_path = os.path.join(state_dir, host)
    _private_host_dir(state_path)
    root = os.path.join(state_path, "simulated-pmem")
    entries = simulated_namespaces(root, host, layout)
    conf = host_conf(state_path, host, entries, uri, migration)
    driver = libvirt_driver.LibvirtDriver(conf=conf)
    return compute_manager.ComputeManager(host, driver, conf, address)


def _holds_only_state(state_dir):
    """True if nothing but the embedded default's files is in ``state_dir``:
    a directory holding others' (~, /tmp) is not ours to lock up."""
    for name in os.listdir(state_dir):
        if not (name in EMBEDDED_HOSTS or name.startswith((DB_FILE, "sshd-"))):
            return False
    return True


def _private_state_dir(state_dir):
    """Create the state directory (and missing parents) 0700; make one that an
    older release left open to other users private, if it is pmemtrack's."""
    if simulated.makedirs_private(state_dir):
        return
    mode = stat.S_IMODE(os.stat(state_dir).st_mode)
    if not mode & 0o077:
        return
    if not _holds_only_state(state_dir):
        LOG.warning(
            "State directory %s is open to other users (mode %04o) and holds "
            "files that are not pmemtrack's: its mode is left as it is.",
            state_dir,
            mode,
        )
        return
    LOG.warning(
        "State directory %s was open to other users (mode %04o): made 0700.",
        state_dir,
        mode,
    )
    os.chmod(state_dir, PRIVATE_DIR)


def _private_host_dir(state_path):
    """Create a host's directory 0700, or make it so: it holds its guests'
    data, and the state directory around it may be open (see above)."""
    if simulated.makedirs_private(state_path):
        return
    if stat.S_IMODE(os.stat(state_path).st_mode) & 0o077:
        os.chmod(state_path, PRIVATE_DIR)


def _start_sshd(state_dir):
    """A private sshd on 127.0.0.1 for copies between the embedded hosts, or
    None (copies to the other host then fail with the reason) if it cannot run."""
    server = loopback_sshd.SSHServer(tempfile.mkdtemp(prefix="sshd-", dir=state_dir))
    try:
        server.start()
    except (loopback_sshd.SSHDUnavailable, OSError, subprocess.SubprocessError) as err:
        LOG.warning("No loopback sshd (%s): copies between hosts will fail.", err)
        shutil.rmtree(server.directory, ignore_errors=True)
        return None, {}
    options = {
        "ssh_user": server.user,
        "ssh_port": server.port,
        "ssh_key_file": server.client_key,
        "known_hosts_file": server.known_hosts,
    }
    return server, options


def embedded(state_dir=None, loopback_ssh=False):
    """The embedded default under ``state_dir`` (created when missing); with
    ``loopback_ssh`` it runs its own sshd until ``close()``."""
    state_dir = os.path.abspath(state_dir or deployment.default_state_dir())
    _private_state_dir(state_dir)
    deployment.use_database(db_api.sqlite_url(os.path.join(state_dir, DB_FILE)))
    flavors.ensure_embedded(pmt_context.get_admin_context())
    sshd, options = _start_sshd(state_dir) if loopback_ssh else (None, {})
    managers = {
        host: simulated_host(state_dir, host, EMBEDDED_LAYOUT, migration=options)
        for host in EMBEDDED_HOSTS
    }
    # As devstack does: two hosts, and moves on one host are worth showing.
    found = deployment.Deployment(managers, state_dir, allow_resize_to_same_host=True)
    if sshd is not None:
        found.on_close.append(lambda: _stop_sshd(sshd))
    return found


def _stop_sshd(server):
    server.stop()
    shutil.rmtree(server.directory, ignore_errors=True)
