"""[resource_tracker] options: how claims behave under contention."""

from oslo_config import cfg

from pmemtrack.conf import groups

resource_tracker_group = cfg.OptGroup(
    "resource_tracker",
    title="Resource tracker",
    help="How PMEM claims retry when several claims race for one compute node "
    "or one project.",
)

resource_tracker_opts = [
    cfg.IntOpt(
        "claim_max_retries",
        default=100,
        min=0,
        help="How many times a claim that lost a race (generation conflict, "
        "deadlock, serialization failure, Galera certification failure) is "
        "retried, each time in a fresh transaction, before it gives up. Sized "
        "for the worst case measured: 16 processes claiming on one host "
        "through the three nodes of a Galera cluster, where a claim waits "
        "for its turn by losing races (a single server queues claims on the "
        "row lock and rarely retries at all).",
    ),
    cfg.FloatOpt(
        "claim_retry_interval",
        default=0.005,
        min=0,
        help="Seconds of the first backoff before a retry; it doubles per retry, "
        "with full jitter, up to claim_retry_max_interval.",
    ),
    cfg.FloatOpt(
        "claim_retry_max_interval",
        default=0.25,
        min=0,
        help="Upper bound, in seconds, of one backoff between claim retries.",
    ),
]


def register_opts(conf):
    groups.register(conf, resource_tracker_group, resource_tracker_opts)


def list_opts():
    return {resource_tracker_group: resource_tracker_opts}
