"""Field types shared by pmemtrack's objects."""

from oslo_serialization import jsonutils
from oslo_versionedobjects import fields

from pmemtrack import resource_class

# Re-export oslo's fields so object modules import one module.
BooleanField = fields.BooleanField
DictOfListOfStringsField = fields.DictOfListOfStringsField
DictOfStringsField = fields.DictOfStringsField
IntegerField = fields.IntegerField
ListOfObjectsField = fields.ListOfObjectsField
ListOfStringsField = fields.ListOfStringsField
NonNegativeIntegerField = fields.NonNegativeIntegerField
ObjectField = fields.ObjectField
StringField = fields.StringField
UUIDField = fields.UUIDField
DateTimeField = fields.DateTimeField


class ResourceClass(fields.StringPattern):
    """A resource class name; custom classes match CUSTOM_[A-Z0-9_]+."""

    @staticmethod
    def coerce(obj, attr, value):
        value = str(value)
        if not resource_class.is_valid(value):
            raise ValueError(f"{attr}: {value!r} is not a valid custom resource class")
        return value


class ResourceClassField(fields.AutoTypedField):
    AUTO_TYPE = ResourceClass()


class JsonDict(fields.FieldType):
    """A dict of JSON values (numbers, strings, lists, nested dicts)."""

    @staticmethod
    def coerce(obj, attr, value):
        if not isinstance(value, dict):
            raise ValueError(f"{attr}: expected a dict, got {type(value).__name__}")
        # Round-trip so what is stored is exactly what is held.
        return jsonutils.loads(jsonutils.dumps(value))


class JsonDictField(fields.AutoTypedField):
    AUTO_TYPE = JsonDict()


class MigrationType(fields.Enum):
    RESIZE = "resize"
    MIGRATION = "migration"
    EVACUATION = "evacuation"
    ALL = (RESIZE, MIGRATION, EVACUATION)

    def __init__(self):
        super().__init__(valid_values=self.ALL)


class MigrationTypeField(fields.BaseEnumField):
    AUTO_TYPE = MigrationType()


class HostResourceState(fields.Enum):
    # Offered and not known to be broken; whether it is free is computed.
    AVAILABLE = "available"
    # Held by an instance but no longer in the config or not discovered.
    UNAVAILABLE = "unavailable"
    # A wipe failed: never handed out until a wipe succeeds.
    DIRTY = "dirty"
    ALL = (AVAILABLE, UNAVAILABLE, DIRTY)

    def __init__(self):
        super().__init__(valid_values=self.ALL)


class HostResourceStateField(fields.BaseEnumField):
    AUTO_TYPE = HostResourceState()


class NovaPrimitive(fields.FieldType):
    """A field pmemtrack does not own in a blob Nova also writes: its
    primitive (a nested object's dict, or None) is kept exactly as read and
    written back unchanged, so rewriting a Nova blob loses nothing of it."""

    @staticmethod
    def coerce(obj, attr, value):
        if value is not None and not isinstance(value, dict):
            raise ValueError(
                f"{attr}: expected an object primitive or null, got "
                f"{type(value).__name__}"
            )
        return value

    @staticmethod
    def from_primitive(obj, attr, value):
        return value

    @staticmethod
    def to_primitive(obj, attr, value):
        return value


class NovaPrimitiveField(fields.AutoTypedField):
    AUTO_TYPE = NovaPrimitive()
