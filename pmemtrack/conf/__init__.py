"""The one oslo.config object of pmemtrack, with every option group registered."""

from oslo_config import cfg

from pmemtrack.conf import database
from pmemtrack.conf import default
from pmemtrack.conf import libvirt
from pmemtrack.conf import migration
from pmemtrack.conf import pmem
from pmemtrack.conf import quota
from pmemtrack.conf import resource_tracker

CONF = cfg.CONF

_GROUP_MODULES = (
    default,
    database,
    pmem,
    libvirt,
    quota,
    migration,
    resource_tracker,
)


def register_opts(conf):
    for module in _GROUP_MODULES:
        module.register_opts(conf)


register_opts(CONF)
