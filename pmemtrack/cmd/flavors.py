"""pmemtrack-manage flavor: the operator's flavors, in the database.

A flavor asks for PMEM with ``hw:pmem`` (Nova's extra spec); each label must
be one some compute node offers or [quota] class_limits names, so a typo is
refused when the flavor is created rather than at every boot.
"""

from pmemtrack import objects
from pmemtrack import resource_class
from pmemtrack.cmd import quotas
from pmemtrack.objects import flavor as flavor_obj

COLUMNS = ("ID", "Name", "RAM", "VCPUs", "Properties")
InvalidArgument = quotas.InvalidArgument


def row(flavor):
    properties = ", ".join(
        f"{key}='{value}'" for key, value in sorted(flavor.extra_specs.items())
    )
    return (flavor.flavorid, flavor.name, flavor.memory_mb, flavor.vcpus, properties)


def _positive(option, text):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 1 <= value <= 2**31 - 1:
        raise InvalidArgument(
            option=option, value=text, reason="a whole number from 1 to 2147483647"
        )
    return value


def _properties(pairs):
    specs = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidArgument(
                option="--property", value=pair, reason="write it KEY=VALUE"
            )
        specs[key.strip()] = value.strip()
    return specs


def _check_labels(context, flavor, quota_conf):
    known = quotas.known_classes(context, quota_conf)
    for label in flavor.pmem_labels():
        if resource_class.for_label(label) not in known:
            labels = sorted(
                name[len(resource_class.PMEM_PREFIX) :]
                for name in known
                if name.startswith(resource_class.PMEM_PREFIX)
            )
            raise InvalidArgument(
                option=f"--property {flavor_obj.PMEM_EXTRA_SPEC}",
                value=flavor.extra_specs[flavor_obj.PMEM_EXTRA_SPEC],
                reason=f"no compute node offers label {label} and [quota] "
                f"class_limits does not name it (known: {', '.join(labels) or 'none'})",
            )


def create(context, name, ram, vcpus, properties, flavorid, quota_conf):
    if not name.strip():
        raise InvalidArgument(option="NAME", value=name, reason="it is blank")
    flavor = objects.Flavor(
        context,
        flavorid=flavorid or name,
        name=name,
        memory_mb=_positive("--ram", ram),
        vcpus=_positive("--vcpus", vcpus),
        extra_specs=_properties(properties),
    )
    _check_labels(context, flavor, quota_conf)
    flavor.create()
    return row(flavor)


def rows(context):
    return [row(flavor) for flavor in objects.FlavorList.get_all(context)]
