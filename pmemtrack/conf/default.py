"""[DEFAULT] options: who this service is and where it keeps its state."""

import os
import socket

from oslo_config import cfg

default_opts = [
    cfg.HostAddressOpt(
        "host",
        default=socket.gethostname(),
        sample_default="<current_hostname>",
        help="Name of this compute host. It must match the host name other "
        "services use for this host: instances, migrations and compute nodes "
        "in the database are keyed by it.",
    ),
    cfg.StrOpt(
        "state_path",
        default=os.path.join(os.sep, "var", "lib", "pmemtrack"),
        help="Top-level directory for the files pmemtrack keeps: the default "
        "SQLite database and, with the simulated backend, the simulated "
        "namespaces.",
    ),
    cfg.BoolOpt(
        "allow_resize_to_same_host",
        default=False,
        help="Allow a resize or cold migration to stay on the instance's own "
        "host (Nova's option of the same name). Without --host, a move then "
        "stays on its host; otherwise it goes to the first other host of the "
        "deployment. The embedded default allows it.",
    ),
    cfg.HostAddressOpt(
        "migration_address",
        help="Address other compute hosts reach this host at over SSH to copy "
        "namespace data to it (a resize or cold migration with "
        "copy_pmem_devices). Default: the host name.",
    ),
    cfg.ListOpt(
        "compute_hosts",
        default=[],
        help="The other compute hosts of the deployment this file describes, "
        "each in its own [host:NAME] group (libvirt URI, migration address, "
        "namespaces). Commands then act on instances of every host listed, "
        "not only on [DEFAULT] host. Their namespaces are discovered and "
        "wiped by the tools of the machine running the command.",
    ),
]


def register_opts(conf):
    conf.register_opts(default_opts)


def list_opts():
    return {"DEFAULT": default_opts}
