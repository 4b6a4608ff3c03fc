"""Initial schema: compute nodes, instances and their blobs, migrations, specs.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIG_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")
MYSQL_OPTS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def _timestamps():
    return [
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
    ]


def _soft_delete():
    return [
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("deleted", sa.Integer(), nullable=True),
    ]


def upgrade():
    op.create_table(
        "compute_nodes",
        *_timestamps(),
        *_soft_delete(),
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("hypervisor_hostname", sa.String(255), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("service_version", sa.Integer(), nullable=False),
        sa.Column("migration_address", sa.String(255), nullable=True),
        sa.UniqueConstraint("uuid"),
        sa.UniqueConstraint(
            "host",
            "hypervisor_hostname",
            "deleted",
            name="uniq_compute_nodes0host0hypervisor_hostname0deleted",
        ),
        **MYSQL_OPTS,
    )
    op.create_table(
        "instances",
        *_timestamps(),
        *_soft_delete(),
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("node", sa.String(255), nullable=True),
        sa.Column("vm_state", sa.String(255), nullable=True),
        sa.Column("task_state", sa.String(255), nullable=True),
        sa.Column("power_state", sa.Integer(), nullable=True),
        sa.UniqueConstraint("uuid"),
        **MYSQL_OPTS,
    )
    op.create_index(
        "instances_host_node_deleted_idx", "instances", ["host", "node", "deleted"]
    )
    op.create_index(
        "instances_project_id_deleted_idx", "instances", ["project_id", "deleted"]
    )
    op.create_table(
        "instance_extra",
        *_timestamps(),
        *_soft_delete(),
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("instance_uuid", sa.String(36), nullable=False),
        sa.Column("flavor", BIG_TEXT, nullable=True),
        sa.Column("resources", BIG_TEXT, nullable=True),
        sa.Column("migration_context", BIG_TEXT, nullable=True),
        sa.UniqueConstraint("instance_uuid"),
        sa.ForeignKeyConstraint(
            ["instance_uuid"],
            ["instances.uuid"],
            name="fk_instance_extra_instance_uuid",
        ),
        **MYSQL_OPTS,
    )
    op.create_table(
        "migrations",
        *_timestamps(),
        *_soft_delete(),
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("instance_uuid", sa.String(36), nullable=False),
        sa.Column("source_compute", sa.String(255), nullable=True),
        sa.Column("source_node", sa.String(255), nullable=True),
        sa.Column("dest_compute", sa.String(255), nullable=True),
        sa.Column("dest_node", sa.String(255), nullable=True),
        sa.Column("dest_host", sa.String(255), nullable=True),
        sa.Column("migration_type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("old_flavor", sa.Text(), nullable=True),
        sa.Column("new_flavor", sa.Text(), nullable=True),
        sa.Column(
            "copy_pmem_devices",
            sa.Boolean(),
            nullable=False,
            server_default=sa.false(),
        ),
        sa.UniqueConstraint("uuid"),
        **MYSQL_OPTS,
    )
    op.create_index(
        "migrations_by_source_idx",
        "migrations",
        ["source_compute", "source_node", "status"],
    )
    op.create_index(
        "migrations_by_dest_idx", "migrations", ["dest_compute", "dest_node", "status"]
    )
    op.create_index("migrations_instance_uuid_idx", "migrations", ["instance_uuid"])
    op.create_table(
        "request_specs",
        *_timestamps(),
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("instance_uuid", sa.String(36), nullable=False),
        sa.Column("spec", BIG_TEXT, nullable=False),
        sa.UniqueConstraint("instance_uuid"),
        **MYSQL_OPTS,
    )
