"""[pmem] options: which namespaces this host offers and the tools that touch them."""

from oslo_config import cfg
from oslo_config import types

from pmemtrack.conf import groups

# One entry of Nova's format: LABEL:NAME[|NAME...].  Labels become resource class
# names, so they take the characters a resource class suffix may take.
NAMESPACE_ENTRY_REGEX = r"^[A-Za-z0-9_]+:[^|:,\s]+(\|[^|:,\s]+)*$"

pmem_group = cfg.OptGroup(
    "pmem",
    title="Persistent memory namespaces",
    help="Which PMEM / device-dax namespaces this host offers to instances, and how "
    "pmemtrack discovers and wipes them.",
)

pmem_opts = [
    cfg.ListOpt(
        "namespaces",
        default=[],
        item_type=types.String(regex=NAMESPACE_ENTRY_REGEX),
        help="Namespaces offered to instances, in Nova's format "
        "LABEL:NAME[|NAME...][,LABEL:NAME...], for example "
        "128G:ns0|ns1|ns2,MEDIUM:ns6|ns7. Each label becomes the resource class "
        "CUSTOM_PMEM_NAMESPACE_<LABEL> (upper-cased, other characters replaced by "
        "'_'); flavors ask for it with hw:pmem=<LABEL>. A name must be a devdax "
        "namespace (or dax device) that discovery finds, listed once.",
    ),
    cfg.StrOpt(
        "backend",
        default="ndctl",
        choices=[
            ("ndctl", "Real hardware: discover with ndctl/daxctl, wipe with daxio."),
            (
                "simulated",
                "Namespaces are files under simulated_path described in ndctl's "
                "JSON format; for tests and demos on hosts without PMEM.",
            ),
        ],
        help="Where namespaces come from. Never use 'simulated' in production.",
    ),
    cfg.StrOpt(
        "simulated_path",
        default="$state_path/simulated-pmem",
        help="Directory that holds the simulated namespaces when backend is "
        "'simulated'.",
    ),
    cfg.StrOpt("ndctl_path", default="ndctl", help="Path of the ndctl binary."),
    cfg.StrOpt("daxctl_path", default="daxctl", help="Path of the daxctl binary."),
    cfg.StrOpt("daxio_path", default="daxio", help="Path of the daxio binary."),
    cfg.StrOpt(
        "lease_dir",
        default="/run/pmemtrack/pmem-leases",
        help="Where the write leases of namespaces live, one file per dax device: "
        "a data copy writes a namespace only while it holds that namespace's "
        "lease, and a wipe revokes it first. Must be the same path on every "
        "compute host and readable by [migration] ssh_user. On tmpfs (/run) a "
        "reboot revokes every lease, as it ends every writer. Ignored with the "
        "simulated backend (leases then live under simulated_path).",
    ),
    cfg.BoolOpt(
        "discover_dax_devices",
        default=True,
        help="Also discover dax devices listed by 'daxctl list' (CXL memory "
        "exposed as devdax), not only ndctl namespaces.",
    ),
    cfg.IntOpt(
        "command_timeout",
        default=60,
        min=1,
        help="Seconds a discovery command (ndctl, daxctl) may run before it is "
        "killed and reported as failed.",
    ),
    cfg.IntOpt(
        "wipe_timeout",
        default=3600,
        min=1,
        help="Seconds one namespace wipe (daxio -z) may run. A namespace whose "
        "wipe fails or times out stays out of the free pool.",
    ),
]


def register_opts(conf):
    groups.register(conf, pmem_group, pmem_opts)


def list_opts():
    return {pmem_group: pmem_opts}
