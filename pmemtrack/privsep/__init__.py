"""The one privilege pmemtrack's own service holds: running the PMEM tools.

The service itself runs unprivileged. ``ndctl``/``daxctl list`` and the
``daxio`` wipe need the dax devices (root-owned, CAP_SYS_ADMIN for the
namespace ioctls), so with the real tools they run in an oslo.privsep daemon
(``pmem.pmem_admin``) with only the capabilities it names, started on first
use (``[pmemtrack_pmem_admin] helper_command``, by default ``sudo
privsep-helper``), as Nova runs ndctl and daxio. ``commands`` is what runs,
in the daemon or, for the simulated stand-ins (files of the service's own
state directory), in the service's process. The copy's streams run as the
service user, over SSH at the destination (see README, *Privileges*).
"""

from oslo_config import cfg


def configure(conf):
    """Read ``[pmemtrack_pmem_admin]`` from the files pmemtrack's own ``conf``
    was loaded from. oslo.privsep reads its options from oslo.config's global
    object, and hands the same files to the daemon it starts; pmemtrack keeps
    its options on an object of its own (see pmemtrack.conf)."""
    cfg.CONF(
        [],
        project="pmemtrack",
        default_config_files=list(conf.config_file or []),
        default_config_dirs=list(conf.config_dir or []),
    )
