"""Base classes and registry of pmemtrack's versioned objects."""

from oslo_serialization import jsonutils
from oslo_versionedobjects import base as ovo_base
import sqlalchemy as sa

from pmemtrack import exception


class PmemtrackObjectRegistry(ovo_base.VersionedObjectRegistry):
    def registration_hook(self, cls, index):
        # Expose the newest version as pmemtrack.objects.<Name>, as Nova does.
        from pmemtrack import objects

        current = getattr(objects, cls.obj_name(), None)
        if current is None or _version(cls) >= _version(current):
            setattr(objects, cls.obj_name(), cls)


def _version(cls):
    return tuple(int(part) for part in cls.VERSION.split("."))


class PmemtrackObject(ovo_base.VersionedObject):
    """Objects that only pmemtrack reads and writes."""

    OBJ_SERIAL_NAMESPACE = "pmemtrack_object"
    OBJ_PROJECT_NAMESPACE = "pmemtrack"


class NovaCompatibleObject(ovo_base.VersionedObject):
    """Objects whose serialised form must be byte-for-byte Nova's.

    Their JSON lives in instance_extra columns that Nova's vPMEM also writes, so an
    existing deployment's assignments read as they are.
    """

    OBJ_SERIAL_NAMESPACE = "nova_object"
    OBJ_PROJECT_NAMESPACE = "nova"


class ObjectListBase(ovo_base.ObjectListBase):
    pass


def load_row(obj, row, names):
    """Copy the named columns of a DB row onto ``obj``; it is then unchanged."""
    for name in names:
        setattr(obj, name, getattr(row, name))
    obj.obj_reset_changes()
    return obj


def fields_equal(one, other):
    """Same class and the same value in every field (unset equals only unset)."""
    if type(one) is not type(other):
        return False
    for name in one.fields:
        is_set = one.obj_attr_is_set(name)
        if is_set != other.obj_attr_is_set(name):
            return False
        if is_set and getattr(one, name) != getattr(other, name):
            return False
    return True


def to_json(obj):
    """Serialise an object as the JSON of its primitive (Nova's blob format)."""
    return jsonutils.dumps(obj.obj_to_primitive())


def decode(cls, blob):
    """Load ``cls`` from a JSON blob; ValueError says what is wrong with it."""
    try:
        primitive = jsonutils.loads(blob)
    except (TypeError, ValueError) as err:
        raise ValueError(f"not JSON ({err})")
    try:
        obj = cls.obj_from_primitive(primitive)
    except Exception as err:  # ovo raises many kinds for malformed primitives
        raise ValueError(
            f"not a versioned object primitive ({type(err).__name__}: {err})"
        )
    if not isinstance(obj, cls):
        raise ValueError(f"holds a {obj.obj_name()}, expected a {cls.obj_name()}")
    return obj


def from_json(cls, blob, instance_uuid, column):
    """Load ``cls`` from a JSON blob, or name the row and column that is broken.

    An unreadable blob is never taken as empty: that would hand out namespaces an
    instance may still hold.
    """
    try:
        return decode(cls, blob)
    except ValueError as err:
        raise exception.CorruptedBlob(
            instance_uuid=instance_uuid, column=column, reason=str(err)
        )


def on_commit(context, callback):
    """Call ``callback()`` once the transaction open on ``context`` commits;
    never if it rolls back (each transaction has a session of its own)."""
    sa.event.listen(
        context.session, "after_commit", lambda _session: callback(), once=True
    )
