"""Entry points for oslo-config-generator: the options, and library defaults."""

from oslo_db import options as db_options
from oslo_privsep import priv_context

from pmemtrack import conf as pmemtrack_conf
from pmemtrack.conf import database
from pmemtrack.conf import hosts


def list_opts():
    """Every pmemtrack option group, for the sample config."""
    groups = {}
    for module in pmemtrack_conf._GROUP_MODULES:
        groups.update(module.list_opts())
    groups.update(hosts.list_opts())
    # The privsep daemon that runs the PMEM tools (pmemtrack.privsep).
    groups["pmemtrack_pmem_admin"] = priv_context.OPTS
    return list(groups.items())


def set_lib_defaults():
    """Show pmemtrack's default DB connection in the sample config.

    oslo.db's set_defaults() changes the default of a registered option only; the
    generator reads oslo.db's option definitions, so the definition is updated.
    """
    for opt in db_options.database_opts:
        if opt.name == "connection":
            opt.default = database.DEFAULT_CONNECTION
