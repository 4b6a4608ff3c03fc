"""SQLAlchemy models: the schema the alembic migrations build.

JSON columns hold oslo.versionedobjects primitives; MEDIUMTEXT on MySQL because a
plain TEXT column (64 KiB) is too small for a large migration context.
"""

from oslo_db.sqlalchemy import models
import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import mysql

BIG_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")


class _Base(models.ModelBase, models.TimestampMixin):
    pass


BASE = orm.declarative_base(cls=_Base)


class ComputeNode(BASE, models.SoftDeleteMixin):
    """One hypervisor node; its generation guards every claim made on it."""

    __tablename__ = "compute_nodes"
    __table_args__ = (
        sa.UniqueConstraint(
            "host",
            "hypervisor_hostname",
            "deleted",
            name="uniq_compute_nodes0host0hypervisor_hostname0deleted",
        ),
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    uuid = sa.Column(sa.String(36), nullable=False, unique=True)
    host = sa.Column(sa.String(255), nullable=False)
    hypervisor_hostname = sa.Column(sa.String(255), nullable=False)
    generation = sa.Column(sa.Integer, nullable=False, default=0)
    service_version = sa.Column(sa.Integer, nullable=False, default=0)
    # Address the data mover connects to when this node is a move's destination.
    migration_address = sa.Column(sa.String(255), nullable=True)


class Flavor(BASE):
    """An instance size; ``extra_specs`` is a JSON object (``hw:pmem``...)."""

    __tablename__ = "flavors"
    __table_args__ = (
        sa.UniqueConstraint("flavorid", name="uniq_flavors0flavorid"),
        sa.UniqueConstraint("name", name="uniq_flavors0name"),
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    flavorid = sa.Column(sa.String(255), nullable=False)
    name = sa.Column(sa.String(255), nullable=False)
    memory_mb = sa.Column(sa.Integer, nullable=False)
    vcpus = sa.Column(sa.Integer, nullable=False)
    extra_specs = sa.Column(sa.Text, nullable=False)


class Instance(BASE, models.SoftDeleteMixin):
    __tablename__ = "instances"
    __table_args__ = (
        sa.Index("instances_host_node_deleted_idx", "host", "node", "deleted"),
        sa.Index("instances_project_id_deleted_idx", "project_id", "deleted"),
        sa.Index(
            "instances_holders_on_node_idx",
            "host",
            "node",
            "holds_resources",
            "deleted",
        ),
        sa.Index(
            "instances_holders_of_project_idx",
            "project_id",
            "holds_resources",
            "deleted",
        ),
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    uuid = sa.Column(sa.String(36), nullable=False, unique=True)
    display_name = sa.Column(sa.String(255), nullable=True)
    project_id = sa.Column(sa.String(255), nullable=False)
    user_id = sa.Column(sa.String(255), nullable=False)
    host = sa.Column(sa.String(255), nullable=True)
    node = sa.Column(sa.String(255), nullable=True)
    vm_state = sa.Column(sa.String(255), nullable=True)
    task_state = sa.Column(sa.String(255), nullable=True)
    power_state = sa.Column(sa.Integer, nullable=True)
    # True whenever instance_extra.resources or .migration_context is set (it
    # may stay true after they are cleared): what lets a claim read only the
    # instances of its node that may hold a namespace. Written with the blobs,
    # in the same transaction (objects.instance_extra.holds_resources_after).
    holds_resources = sa.Column(
        sa.Boolean(name="instances_holds_resources_bool"),
        nullable=False,
        default=False,
        server_default=sa.false(),
    )


class InstanceExtra(BASE, models.SoftDeleteMixin):
    """Per-instance JSON blobs, loaded only when asked for."""

    __tablename__ = "instance_extra"

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    instance_uuid = sa.Column(
        sa.String(36),
        sa.ForeignKey("instances.uuid", name="fk_instance_extra_instance_uuid"),
        nullable=False,
        unique=True,
    )
    flavor = sa.Column(BIG_TEXT, nullable=True)
    # Nova's format: the JSON of ResourceList.obj_to_primitive().
    resources = sa.Column(BIG_TEXT, nullable=True)
    # JSON of MigrationContext, holding old_resources and new_resources.
    migration_context = sa.Column(BIG_TEXT, nullable=True)


class Migration(BASE, models.SoftDeleteMixin):
    __tablename__ = "migrations"
    __table_args__ = (
        sa.Index("migrations_by_source_idx", "source_compute", "source_node", "status"),
        sa.Index("migrations_by_dest_idx", "dest_compute", "dest_node", "status"),
        sa.Index("migrations_instance_uuid_idx", "instance_uuid"),
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    uuid = sa.Column(sa.String(36), nullable=False, unique=True)
    instance_uuid = sa.Column(sa.String(36), nullable=False)
    source_compute = sa.Column(sa.String(255), nullable=True)
    source_node = sa.Column(sa.String(255), nullable=True)
    dest_compute = sa.Column(sa.String(255), nullable=True)
    dest_node = sa.Column(sa.String(255), nullable=True)
    dest_host = sa.Column(sa.String(255), nullable=True)
    migration_type = sa.Column(sa.String(32), nullable=False)
    status = sa.Column(sa.String(32), nullable=False)
    old_flavor = sa.Column(sa.Text, nullable=True)
    new_flavor = sa.Column(sa.Text, nullable=True)
    copy_pmem_devices = sa.Column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false()
    )


class RequestSpec(BASE):
    """The RequestSpec an instance was scheduled with."""

    __tablename__ = "request_specs"

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    instance_uuid = sa.Column(sa.String(36), nullable=False, unique=True)
    spec = sa.Column(BIG_TEXT, nullable=False)


class HostResource(BASE):
    """Unified table of host resources: one row per namespace."""

    __tablename__ = "resources"
    __table_args__ = (
        sa.UniqueConstraint(
            "compute_node_id",
            "identifier",
            name="uniq_resources0compute_node_id0identifier",
        ),
        sa.Index("resources_resource_class_idx", "compute_node_id", "resource_class"),
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    uuid = sa.Column(sa.String(36), nullable=False, unique=True)
    compute_node_id = sa.Column(
        sa.Integer,
        sa.ForeignKey("compute_nodes.id", name="fk_resources_compute_node_id"),
        nullable=False,
    )
    resource_class = sa.Column(sa.String(255), nullable=False)
    resource_type = sa.Column(sa.String(64), nullable=False)
    identifier = sa.Column(sa.String(255), nullable=False)
    locator = sa.Column(sa.String(1024), nullable=True)
    # "metadata" is reserved on declarative classes, hence the attribute name.
    resource_metadata = sa.Column("metadata", sa.Text, nullable=True)
    state = sa.Column(sa.String(32), nullable=False)


class QuotaLimit(BASE):
    """A per-project override of a resource class limit."""

    __tablename__ = "quota_limits"
    __table_args__ = (
        sa.UniqueConstraint(
            "project_id",
            "resource_class",
            name="uniq_quota_limits0project_id0resource_class",
        ),
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    project_id = sa.Column(sa.String(255), nullable=False)
    resource_class = sa.Column(sa.String(255), nullable=False)
    hard_limit = sa.Column(sa.Integer, nullable=False)


class ProjectQuotaAnchor(BASE):
    """One row per project whose generation serialises its quota checks.

    Claims of one project on different hosts both bump this generation in their
    transaction, so two of them can never both pass a limit.
    """

    __tablename__ = "project_quota_anchors"

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    project_id = sa.Column(sa.String(255), nullable=False, unique=True)
    generation = sa.Column(sa.Integer, nullable=False, default=0)
