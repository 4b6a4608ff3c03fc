"""The ``[pmemtrack]`` group of nova.conf: what pmemtrack adds to Nova's vPMEM.

Registered on Nova's configuration object (oslo.config's global CONF, where
nova registers its own options) only when nova-compute loads the driver; the
standalone service never imports this module and keeps its own ConfigOpts.
Nova's ``[libvirt] pmem_namespaces`` stays the list of namespaces offered.
"""

from oslo_config import cfg

from pmemtrack.conf import migration

pmemtrack_group = cfg.OptGroup(
    "pmemtrack",
    title="pmemtrack vPMEM driver",
    help="Options of pmemtrack's libvirt driver (compute_driver = "
    "pmemtrack.LibvirtDriver): data copy on resize and cold migration, wipes, "
    "and discovery of CXL dax devices. The namespaces offered stay in "
    "[libvirt] pmem_namespaces.",
)

COPY_SPEC = "pmemtrack:copy_pmem_devices"
COPY_TRAIT = "CUSTOM_PMEMTRACK_DATA_COPY"
_SHARED_COPY_OPTS = ("stall_timeout", "chunk_size", "parallel_streams")

pmemtrack_opts = [
    cfg.BoolOpt(
        "copy_pmem_devices",
        default=False,
        help="Copy each namespace's data into its new namespace on resize and "
        f"cold migration when the flavor does not say. A flavor overrides it "
        f"with the extra spec {COPY_SPEC}=true|false (for a resize, the new "
        f"flavor's). Hosts that can receive a copy report the trait "
        f"{COPY_TRAIT}; a flavor asking for copy should require it "
        f"(trait:{COPY_TRAIT}=required) so no older host is picked.",
    ),
    cfg.BoolOpt(
        "discover_dax_devices",
        default=False,
        help="Also offer dax devices listed by 'daxctl list' (CXL memory "
        "exposed as devdax) by name in [libvirt] pmem_namespaces. Needs daxctl.",
    ),
    cfg.StrOpt(
        "device_dir",
        default="/dev",
        help="Directory of the dax character devices (daxN.M).",
    ),
    cfg.StrOpt(
        "sysfs_dir",
        default="/sys",
        help="Where sysfs is mounted; a namespace's NUMA node is read from "
        "<sysfs_dir>/bus/nd/devices/<namespace>/numa_node when ndctl does not "
        "print it.",
    ),
    cfg.StrOpt("daxctl_path", default="daxctl", help="Path of the daxctl binary."),
    cfg.StrOpt(
        "daxio_path",
        default="daxio",
        help="Path of daxio on this host and on copy destinations (the copy "
        "runs it at both ends). Wipes use Nova's own privileged daxio call.",
    ),
    cfg.StrOpt(
        "lease_dir",
        default="/run/pmemtrack/pmem-leases",
        help="Where the write leases of namespaces live, one file per dax "
        "device: a copy writes a destination namespace only while it holds "
        "that namespace's lease. Must be the same path on every compute host.",
    ),
    cfg.StrOpt(
        "state_dir",
        default="$state_path/pmemtrack",
        help="Where this host keeps what it must not forget across restarts: "
        "namespaces whose wipe failed (reported reserved, never handed out "
        "until a later wipe succeeds) and which instance last used each "
        "namespace here (so a host an instance was evacuated from wipes "
        "exactly its namespaces when it comes back). Files are per host.",
    ),
    cfg.IntOpt(
        "command_timeout",
        default=60,
        min=1,
        help="Seconds a discovery command may run before it is killed.",
    ),
    cfg.IntOpt(
        "wipe_timeout",
        default=3600,
        min=1,
        help="Seconds one namespace wipe may run.",
    ),
    cfg.StrOpt(
        "ssh_user",
        help="User to log in as on copy destinations. Default: the user "
        "nova-compute runs as, the one Nova's own resize uses to reach the "
        "destination's instance directory.",
    ),
    cfg.PortOpt("ssh_port", default=22, help="SSH port of the destinations."),
    cfg.StrOpt(
        "ssh_key_file",
        help="Private key for the destinations. Default: the first of "
        "~/.ssh/id_ed25519, id_ecdsa, id_rsa of the nova-compute user (what "
        "Nova's resize over SSH uses).",
    ),
    cfg.StrOpt(
        "known_hosts_file",
        help="known_hosts the destination's host key is checked against. "
        "Default: ~/.ssh/known_hosts of the nova-compute user.",
    ),
    cfg.StrOpt(
        "host_key_policy",
        default="reject",
        choices=["reject", "warn", "auto-add"],
        help="What to do with a destination whose host key is not known. A "
        "key that does not match a known one is always refused.",
    ),
    cfg.IntOpt("connect_timeout", default=30, min=1, help="SSH connect timeout."),
    # The same copy settings as the standalone service's [migration] group:
    # one definition, registered in each group.
    *(opt for opt in migration.migration_opts if opt.name in _SHARED_COPY_OPTS),
]


def register_opts(conf):
    conf.register_group(pmemtrack_group)
    conf.register_opts(pmemtrack_opts, group=pmemtrack_group)


def list_opts():
    return [(pmemtrack_group, pmemtrack_opts)]
