"""A deployment: the compute hosts this process drives, and the API over them.

With a config file it is the hosts that file describes (``configured``).
Without one it is the embedded default (``pmemtrack.sandbox.embedded``).
"""

import dataclasses
import os

from pmemtrack.compute import api as compute_api
from pmemtrack.compute import manager as compute_manager
from pmemtrack.conf import hosts
from pmemtrack.db import api as db_api
from pmemtrack.db import migration
from pmemtrack.virt.libvirt import driver as libvirt_driver


def default_state_dir():
    """Where the embedded default keeps its state unless told otherwise."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.environ.get("PMEMTRACK_STATE_DIR") or os.path.join(base, "pmemtrack")


@dataclasses.dataclass
class Deployment:
    managers: dict
    state_dir: str | None = None
    allow_resize_to_same_host: bool = False
    # What close() stops, last started first (the embedded default's sshd).
    on_close: list = dataclasses.field(default_factory=list)

    @property
    def api(self):
        return compute_api.ComputeAPI(self.managers, self.allow_resize_to_same_host)

    def start(self, context):
        """init_host on every host: check config, report inventory, restore
        guests a restarted hypervisor lost."""
        return {host: m.init_host(context) for host, m in self.managers.items()}

    def close(self):
        while self.on_close:
            self.on_close.pop()()


def use_database(url):
    """Point the transaction facade at ``url`` and bring its schema to head.
    A SQLite file is created (or made) private first: see db_api."""
    db_api.configure_url(url)
    migration.upgrade(db_api.get_engine())


def _configured_host(conf):
    driver = libvirt_driver.LibvirtDriver(conf=conf)
    address = conf.migration_address or conf.host
    return compute_manager.ComputeManager(conf.host, driver, conf, address)


def configured(conf):
    """The hosts a config file describes: [DEFAULT] host, and each of
    [DEFAULT] compute_hosts with its [host:NAME] group."""
    managers = {conf.host: _configured_host(conf)}
    for host in conf.compute_hosts:
        managers[host] = _configured_host(hosts.conf_for(conf, host))
    return Deployment(
        managers, allow_resize_to_same_host=conf.allow_resize_to_same_host
    )
