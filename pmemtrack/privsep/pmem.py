"""The ``pmem_admin`` privsep context and its entry points: ``commands``,
run in the daemon. Imported only where the real tools run: oslo.privsep
brings eventlet into the process."""

from oslo_privsep import capabilities
from oslo_privsep import priv_context

from pmemtrack.privsep import commands

pmem_admin = priv_context.PrivContext(
    "pmemtrack",
    cfg_section="pmemtrack_pmem_admin",
    pypath=__name__ + ".pmem_admin",
    capabilities=[
        capabilities.CAP_SYS_ADMIN,
        capabilities.CAP_DAC_OVERRIDE,
        capabilities.CAP_DAC_READ_SEARCH,
    ],
)


@pmem_admin.entrypoint
def ndctl_list(ndctl, flags, timeout, env=None):
    return commands.ndctl_list(ndctl, flags, timeout, env)


@pmem_admin.entrypoint
def daxctl_list(daxctl, timeout, env=None):
    return commands.daxctl_list(daxctl, timeout, env)


@pmem_admin.entrypoint
def zero(daxio, devpath, timeout, env=None):
    commands.zero(daxio, devpath, timeout, env)
