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
]


def register_opts(conf):
    conf.register_opts(default_opts)


def list_opts():
    return {"DEFAULT": default_opts}
