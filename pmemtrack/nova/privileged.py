"""pmemtrack's own privileged calls inside nova-compute, for tools Nova has no
entry point for (``daxctl list``). Nova's own entry points
(``nova.privsep.libvirt.get_pmem_namespaces``, ``cleanup_vpmem``) are used
wherever they exist."""

from oslo_concurrency import processutils
from oslo_privsep import capabilities
from oslo_privsep import priv_context

dax_admin_pctxt = priv_context.PrivContext(
    "pmemtrack",
    cfg_section="pmemtrack_privileged",
    pypath=__name__ + ".dax_admin_pctxt",
    capabilities=[capabilities.CAP_SYS_ADMIN, capabilities.CAP_DAC_READ_SEARCH],
)


@dax_admin_pctxt.entrypoint
def daxctl_list(daxctl_path, timeout):
    """The JSON ``daxctl list`` prints (CXL memory exposed as dax devices)."""
    out, _err = processutils.execute(daxctl_path, "list", timeout=timeout)
    return out
