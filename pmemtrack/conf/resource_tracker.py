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
        default=30,
        min=0,
        help="How many times a claim that lost a race (generation conflict, "
        "deadlock or serialization failure) is retried, each time in a fresh "
        "transaction, before it gives up.",
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
