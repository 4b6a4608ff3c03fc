"""[migration] options: how namespace data travels between hosts over SSH."""

from oslo_config import cfg

from pmemtrack.conf import groups

migration_group = cfg.OptGroup(
    "migration",
    title="PMEM data copy",
    help="Settings for copying namespace data to the destination host over SSH "
    "during a resize or cold migration with copy_pmem_devices.",
)

migration_opts = [
    cfg.StrOpt(
        "ssh_user", default="pmemtrack", help="User to log in as on destinations."
    ),
    cfg.PortOpt("ssh_port", default=22, help="SSH port of the destination hosts."),
    cfg.StrOpt(
        "ssh_key_file",
        default="$state_path/.ssh/id_ed25519",
        help="Private key used to authenticate to destinations. Password "
        "authentication is never used.",
    ),
    cfg.StrOpt(
        "known_hosts_file",
        default="$state_path/.ssh/known_hosts",
        help="known_hosts file the destination's host key is checked against.",
    ),
    cfg.StrOpt(
        "host_key_policy",
        default="reject",
        choices=[
            ("reject", "Refuse hosts whose key is not in known_hosts_file."),
            ("warn", "Accept unknown hosts with a warning; the key is not saved."),
            ("auto-add", "Accept unknown hosts and add their key to known_hosts_file."),
        ],
        help="What to do when a destination's host key is not in "
        "known_hosts_file. A key that does not match a known one is always refused.",
    ),
    cfg.IntOpt(
        "connect_timeout",
        default=30,
        min=1,
        help="Seconds to wait for the SSH connection and authentication.",
    ),
    cfg.IntOpt(
        "recovery_timeout",
        default=600,
        min=1,
        help="A move in flight whose migration record was not updated for this "
        "many seconds is taken as abandoned (its process died) and rolled back "
        "by the periodic pass of either host: the instance runs again on its "
        "source with its data, the destination's namespaces are wiped. A copy "
        "in progress updates the record every recovery_timeout / 4 seconds. "
        "Keep it well above stall_timeout.",
    ),
    cfg.IntOpt(
        "stall_timeout",
        default=120,
        min=1,
        help="A copy that moves no byte for this many seconds is aborted; the "
        "instance stays on its source with its data.",
    ),
    cfg.IntOpt(
        "chunk_size",
        default=1024 * 1024,
        min=64 * 1024,
        max=64 * 1024 * 1024,
        help="Bytes read and sent at a time while copying namespace data.",
    ),
    cfg.FloatOpt(
        "progress_interval",
        default=1.0,
        min=0,
        help="Seconds between two progress reports of one namespace copy (a "
        "log line, and the progress shown by the CLI); 0 reports after every "
        "chunk.",
    ),
    cfg.IntOpt(
        "parallel_streams",
        default=1,
        min=1,
        max=16,
        help="SSH streams used at once to copy the namespaces of one move. More "
        "than one helps only on hosts with cores to spare.",
    ),
]


def register_opts(conf):
    groups.register(conf, migration_group, migration_opts)


def list_opts():
    return {migration_group: migration_opts}
