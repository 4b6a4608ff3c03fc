"""Flavor: the size of an instance, and the PMEM it asks for in ``hw:pmem``."""

import re

from oslo_db import exception as db_exc
from oslo_serialization import jsonutils
import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack.db import api as db_api
from pmemtrack.db import models
from pmemtrack.objects import base
from pmemtrack.objects import fields

PMEM_EXTRA_SPEC = "hw:pmem"
# Nova's accepted value: labels separated by commas, one namespace per label.
_PMEM_VALUE = re.compile(r"^([a-zA-Z0-9_]+(,)?)+$")
_FLAVORS = models.Flavor.__table__
_COLUMNS = ("flavorid", "name", "memory_mb", "vcpus")


@db_api.context_manager.writer
def _create(context, values):
    try:
        context.session.execute(sa.insert(_FLAVORS).values(**values))
    except db_exc.DBDuplicateEntry:
        raise exception.FlavorExists(name=values["name"], flavorid=values["flavorid"])


@db_api.context_manager.reader
def _rows(context, name=None):
    query = sa.select(_FLAVORS).order_by(_FLAVORS.c.name)
    if name is not None:
        query = query.where(_FLAVORS.c.name == name)
    return context.session.execute(query).all()


@db_api.context_manager.writer
def _destroy(context, name):
    deleted = context.session.execute(
        sa.delete(_FLAVORS).where(_FLAVORS.c.name == name)
    )
    return deleted.rowcount


def _from_row(context, row):
    flavor = Flavor(context)
    for name in _COLUMNS:
        setattr(flavor, name, getattr(row, name))
    flavor.extra_specs = jsonutils.loads(row.extra_specs)
    flavor.obj_reset_changes()
    return flavor


def _not_found(context, name):
    known = ", ".join(row.name for row in _rows(context)) or "none"
    return exception.FlavorNotFound(name=name, known=known)


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

    def create(self):
        """Store the flavor. Instances keep a copy of theirs (Nova's rule),
        so a flavor deleted later changes no instance."""
        self.pmem_labels()  # a malformed hw:pmem is never stored
        values = {name: getattr(self, name) for name in _COLUMNS}
        values["extra_specs"] = jsonutils.dumps(self.extra_specs or {})
        _create(self._context, values)
        self.obj_reset_changes()

    @classmethod
    def get_by_name(cls, context, name):
        rows = _rows(context, name)
        if not rows:
            raise _not_found(context, name)
        return _from_row(context, rows[0])

    @classmethod
    def destroy_by_name(cls, context, name):
        if not _destroy(context, name):
            raise _not_found(context, name)


@base.PmemtrackObjectRegistry.register
class FlavorList(base.ObjectListBase, base.PmemtrackObject):
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("Flavor")}

    @classmethod
    def get_all(cls, context):
        return cls(context, objects=[_from_row(context, row) for row in _rows(context)])
