"""[quota] options: default per-project limits on PMEM namespaces."""

from oslo_config import cfg
from oslo_config import types

from pmemtrack.conf import groups

UNLIMITED = -1

quota_group = cfg.OptGroup(
    "quota",
    title="Quota",
    help="Default limits on how many namespaces of each resource class one project "
    "may hold. Per-project overrides are kept in the database "
    "('pmemtrack-manage quota set'). Usage is counted from the real assignments; "
    "there are no reservations.",
)

quota_opts = [
    cfg.IntOpt(
        "default_limit",
        default=UNLIMITED,
        min=UNLIMITED,
        help="Namespaces of any one resource class a project may hold when neither "
        "'class_limits' nor a per-project override names that class. -1 means "
        "unlimited.",
    ),
    cfg.Opt(
        "class_limits",
        type=types.Dict(value_type=types.Integer(min=UNLIMITED)),
        default={},
        help="Default limit per resource class, as RESOURCE_CLASS:LIMIT pairs, for "
        "example CUSTOM_PMEM_NAMESPACE_MEDIUM:4,CUSTOM_PMEM_NAMESPACE_128G:1. "
        "-1 means unlimited.",
    ),
]


def register_opts(conf):
    groups.register(conf, quota_group, quota_opts)


def list_opts():
    return {quota_group: quota_opts}
