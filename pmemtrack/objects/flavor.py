"""Flavor: the size of an instance, and the PMEM it asks for in ``hw:pmem``."""

import re

from pmemtrack import exception
from pmemtrack.objects import base
from pmemtrack.objects import fields

PMEM_EXTRA_SPEC = "hw:pmem"
# Nova's accepted value: labels separated by commas, one namespace per label.
_PMEM_VALUE = re.compile(r"^([a-zA-Z0-9_]+(,)?)+$")


class InvalidPmemRequest(exception.PmemtrackException):
    msg_fmt = (
        "Flavor %(flavor)s has %(spec)s=%(value)r, which is not a comma-separated "
        "list of labels such as '6GB,LARGE'."
    )


@base.PmemtrackObjectRegistry.register
class Flavor(base.PmemtrackObject):
    VERSION = "1.0"
    fields = {
        "flavorid": fields.StringField(),
        "name": fields.StringField(),
        "memory_mb": fields.NonNegativeIntegerField(),
        "vcpus": fields.NonNegativeIntegerField(),
        "extra_specs": fields.DictOfStringsField(default={}),
    }

    def pmem_labels(self):
        """The labels asked for, one entry per namespace, as written."""
        value = (self.extra_specs or {}).get(PMEM_EXTRA_SPEC)
        if value is None:
            return []
        if not _PMEM_VALUE.match(value) or value.endswith(","):
            raise InvalidPmemRequest(
                flavor=self.name, spec=PMEM_EXTRA_SPEC, value=value
            )
        return value.split(",")
