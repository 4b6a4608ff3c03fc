"""pmemtrack's own privileged calls inside nova-compute, for tools Nova has no
entry point for (``daxctl list``, the copy's ``daxio``). Nova's own entry points
(``nova.privsep.libvirt.get_pmem_namespaces``, ``cleanup_vpmem``) are used
wherever they exist."""

from oslo_privsep import capabilities
from oslo_privsep import priv_context

from pmemtrack.nova import data_copy
from pmemtrack.privsep import commands

dax_admin_pctxt = priv_context.PrivContext(
    "pmemtrack",
    cfg_section="pmemtrack_privileged",
    pypath=__name__ + ".dax_admin_pctxt",
    capabilities=[
        capabilities.CAP_SYS_ADMIN,
        capabilities.CAP_DAC_OVERRIDE,
        capabilities.CAP_DAC_READ_SEARCH,
    ],
)


@dax_admin_pctxt.entrypoint
def daxctl_list(daxctl_path, timeout):
    """The JSON ``daxctl list`` prints (CXL memory exposed as dax devices)."""
    return commands.daxctl_list(daxctl_path, timeout)


@dax_admin_pctxt.entrypoint
def copy_namespaces(copy_request):
    """Run a move's copy (``data_copy.request``) where the source devices can
    be read; [CopyResult as a dict]."""
    return data_copy.run(copy_request)
