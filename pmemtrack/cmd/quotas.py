"""pmemtrack-manage quota: per-project limits, where they come from, and usage.

Usage is counted the way a claim counts it (from the live instances'
assignments), so what ``quota show`` prints is what the next claim will see.
"""

import re

from pmemtrack import exception
from pmemtrack import objects
from pmemtrack import resource_class
from pmemtrack.objects import host_resource
from pmemtrack.objects import quota as quota_obj
from pmemtrack.resource_tracker import quota

COLUMNS = ("Project", "Resource class", "Limit", "Source", "Usage")
OVERRIDE, CLASS_DEFAULT, DEFAULT = "override", "class default", "default"
# The characters a [pmem] namespaces label may have: a label the config cannot
# hold names no namespace, so it is refused rather than normalised.
_LABEL = re.compile(r"^[A-Za-z0-9_]+$")
_CUSTOM = "CUSTOM_"
_LIMIT_RULE = f"use -1 for unlimited or a whole number from 0 to {quota_obj.MAX_LIMIT}"


class InvalidArgument(exception.PmemtrackException):
    msg_fmt = "%(option)s %(value)r is not valid: %(reason)s"


def normalize_class(value):
    """A resource class from ``CUSTOM_...`` (any case) or a label (``medium``)."""
    text = value.strip()
    if text.upper().startswith(_CUSTOM):
        name = text.upper()
        if not resource_class.is_valid(name) or name == _CUSTOM:
            raise InvalidArgument(
                option="--class",
                value=value,
                reason="a resource class is CUSTOM_ followed by letters, digits "
                "and '_'",
            )
        return name
    if not _LABEL.match(text):
        raise InvalidArgument(
            option="--class",
            value=value,
            reason="give a resource class (CUSTOM_PMEM_NAMESPACE_<LABEL>) or a "
            "label of letters, digits and '_'",
        )
    return resource_class.for_label(text)


def parse_limit(text):
    """The limit as an int; -1 is unlimited, anything lower is refused."""
    try:
        limit = int(text)
    except ValueError:
        limit = None
    if limit is None or not quota_obj.UNLIMITED <= limit <= quota_obj.MAX_LIMIT:
        raise InvalidArgument(option="--limit", value=text, reason=_LIMIT_RULE)
    return limit


def parse_project(text):
    if not text.strip():
        raise InvalidArgument(option="--project", value=text, reason="it is blank")
    return text.strip()


def _offered_classes(context):
    """Resource classes some compute node offers, so a project with no usage
    and no override still sees the limits that would apply to it."""
    classes = set()
    for node in objects.ComputeNodeList.get_all(context):
        for resource in objects.HostResourceList.get_by_compute_node(
            context, node.id, host_resource.PMEM_NAMESPACE
        ):
            classes.add(resource.resource_class)
    return classes


def _source(overrides, rc, quota_conf):
    if rc in overrides:
        return OVERRIDE
    return CLASS_DEFAULT if rc in quota_conf.class_limits else DEFAULT


def _row(project_id, rc, overrides, used, quota_conf):
    limit = quota_obj.limit_in_force(overrides, rc, quota_conf)
    source = _source(overrides, rc, quota_conf)
    return (project_id, rc, limit, source, used.get(rc, 0))


def show(context, project_id, quota_conf):
    """One row per resource class in limits, usage or the inventory."""
    overrides, used = quota.project_use(context, project_id)
    classes = (
        set(overrides)
        | set(quota_conf.class_limits)
        | set(used)
        | _offered_classes(context)
    )
    return [_row(project_id, rc, overrides, used, quota_conf) for rc in sorted(classes)]


def show_all(context, quota_conf):
    """``show`` for every project with an override or a live instance."""
    projects = quota_obj.projects_with_overrides(context) | {
        instance.project_id for instance in objects.InstanceList.get_all(context, [])
    }
    return [
        row
        for project in sorted(projects)
        for row in show(context, project, quota_conf)
    ]


def known_classes(context, quota_conf):
    """The PMEM resource classes a flavor or a limit may name: those some
    compute node offers and those [quota] class_limits names."""
    return _offered_classes(context) | set(quota_conf.class_limits)


def check_known_class(context, rc, quota_conf):
    """Refuse a class no compute node offers and [quota] does not name: a
    mistyped label would be stored and never limit anything."""
    known = known_classes(context, quota_conf)
    if rc not in known:
        raise InvalidArgument(
            option="--class",
            value=rc,
            reason="no compute node offers it and [quota] class_limits does not "
            f"name it (known: {', '.join(sorted(known)) or 'none'})",
        )


def set_limit(context, project_id, rc, limit, quota_conf):
    """The new limit's row; a limit below what the project already uses is
    set (nothing is taken away: new claims are refused until usage falls
    below it) and the row's usage shows by how much."""
    check_known_class(context, rc, quota_conf)
    quota_obj.QuotaLimit.set(context, project_id, rc, limit)
    overrides, used = quota.project_use(context, project_id)
    return _row(project_id, rc, overrides, used, quota_conf)


def over_limit(row):
    """A warning for a row whose usage is above its limit, or None."""
    project_id, rc, limit, _source_name, used = row
    if limit == quota_obj.UNLIMITED or used <= limit:
        return None
    return (
        f"project {project_id} already uses {used} {rc}, more than the new limit "
        f"of {limit}: nothing is taken away; its new claims of {rc} are refused "
        "until its usage is below the limit"
    )


def unset_limit(context, project_id, rc, quota_conf):
    """Drop the override; return the limit that is in force instead."""
    quota_obj.QuotaLimit.unset(context, project_id, rc)
    overrides, used = quota.project_use(context, project_id)
    return _row(project_id, rc, overrides, used, quota_conf)
