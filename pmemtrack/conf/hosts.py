"""[host:NAME] groups: the other compute hosts one config file describes.

A deployment driven from one file (``[DEFAULT] compute_hosts``) gives each
host beyond ``[DEFAULT] host`` a group of its own, the way Nova gives each
mdev type one (``[mdev_<type>]``): the groups' names come from a list option,
so they are registered once the files are parsed. Every other option is the
file's own; each host gets a ConfigOpts of its own with those values and its
group's on top, since the driver and tracker read their host's options from
one object.
"""

from oslo_config import cfg
from oslo_config import types

from pmemtrack.conf import pmem

GROUP_PREFIX = "host:"
_INHERITED = "the file's [pmem] backend"

host_opts = [
    cfg.StrOpt(
        "connection_uri",
        help="Libvirt connection URI of this host, for example "
        "qemu+ssh://pmemtrack@127.0.0.2/system. Required.",
    ),
    cfg.HostAddressOpt(
        "migration_address",
        help="Address the other hosts reach this host at over SSH for data "
        "copies. Default: the host name.",
    ),
    cfg.ListOpt(
        "namespaces",
        default=[],
        item_type=types.String(regex=pmem.NAMESPACE_ENTRY_REGEX),
        help="This host's namespaces, in [pmem] namespaces' format.",
    ),
    cfg.StrOpt(
        "backend",
        choices=["ndctl", "simulated"],
        help=f"[pmem] backend of this host. Default: {_INHERITED}.",
    ),
    cfg.StrOpt(
        "simulated_path",
        help="[pmem] simulated_path of this host; required with the simulated "
        "backend, and different from every other host's.",
    ),
]


def group_name(host):
    return GROUP_PREFIX + host


def register_opts(conf):
    """Register a group per ``[DEFAULT] compute_hosts`` entry; call after the
    files are parsed (oslo.config reads a late option from them)."""
    for host in conf.compute_hosts:
        name = group_name(host)
        if name not in conf:
            conf.register_group(cfg.OptGroup(name, title=f"Compute host {host}"))
            conf.register_opts(host_opts, group=name)


def list_opts():
    # oslo-config-generator lower-cases group names.
    return {group_name("name"): host_opts}


# (group, option) each [host:NAME] option stands for in the host's own config.
_TARGETS = {
    "connection_uri": ("libvirt", "connection_uri"),
    "migration_address": (None, "migration_address"),
    "namespaces": ("pmem", "namespaces"),
    "backend": ("pmem", "backend"),
    "simulated_path": ("pmem", "simulated_path"),
}


def _values(conf):
    """(group or None, option, value) of every option pmemtrack registers."""
    for name in sorted(conf.keys()):
        value = conf[name]
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            if not name.startswith(GROUP_PREFIX):
                for option in sorted(value.keys()):
                    yield name, option, value[option]
        else:
            yield None, name, value


def conf_for(conf, host):
    """The ConfigOpts of ``host``, one of ``conf.compute_hosts``: ``conf``'s
    values, then its [host:NAME] group's, and ``host`` as [DEFAULT] host."""
    from pmemtrack import conf as pmt_conf  # the package imports this module

    own = cfg.ConfigOpts()
    pmt_conf.register_opts(own)
    own([], default_config_files=[])
    known = set(own.keys())
    for group, option, value in _values(conf):
        if (group or option) in known:
            own.set_override(option, pmt_conf.literal(value), group=group)
    own.set_override("migration_address", None)
    section = conf[group_name(host)]
    for option, (group, target) in _TARGETS.items():
        if section[option] is not None:
            own.set_override(target, pmt_conf.literal(section[option]), group=group)
    own.set_override("host", pmt_conf.literal(host))
    own.set_override("compute_hosts", [])
    return own
