"""The one oslo.config object of pmemtrack, with every option group registered."""

import re

from oslo_config import cfg

from pmemtrack.conf import database
from pmemtrack.conf import default
from pmemtrack.conf import libvirt
from pmemtrack.conf import migration
from pmemtrack.conf import pmem
from pmemtrack.conf import quota
from pmemtrack.conf import resource_tracker

# pmemtrack's own ConfigOpts, never oslo.config's global one: loaded into a process
# that has its own options on the global object (nova-compute registers
# [DEFAULT] host, state_path and [libvirt] connection_uri there), pmemtrack
# clashes with none of them.
CONF = cfg.ConfigOpts()

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

# What oslo.config expands in every string it hands back, overrides and
# command-line values included: "$name" / "${name}", and "\$", which it reads
# as the escape "$$".
_EXPANDED = re.compile(r"\\\$|\$")


def literal(value):
    """``value`` escaped so that oslo.config hands it back unchanged.

    For a value pmemtrack sets (set_override, set_default) or a path the user
    typed: a state directory named "/srv/$x" must not be read as the option
    "x". Lists and dicts are escaped item by item; other types pass as they are.
    """
    if isinstance(value, str):
        # "\$" must stay "\$": oslo.config turns "\$" into "$$" before it
        # expands, so it is written "\\$" (the first backslash is kept).
        return _EXPANDED.sub(lambda m: "\\\\$" if len(m[0]) == 2 else "$$", value)
    if isinstance(value, list):
        return [literal(item) for item in value]
    if isinstance(value, dict):
        return {literal(key): literal(item) for key, item in value.items()}
    return value


class LiteralStrOpt(cfg.StrOpt):
    """A StrOpt whose command-line value is taken as typed.

    oslo.config expands "$name" in command-line values too; a path given on the
    command line means what the shell passed. Values from config files keep
    oslo.config's syntax ("$$" for "$").
    """

    # The hook oslo.config's own Opt types shape their argparse argument with.
    def _get_argparse_kwargs(self, group, **kwargs):
        kwargs = super()._get_argparse_kwargs(group, **kwargs)
        # argparse converts the typed value; oslo.config then expands the
        # escaped string back to it.
        kwargs["type"] = literal
        return kwargs
