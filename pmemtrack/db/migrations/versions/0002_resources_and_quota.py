"""Unified host resources table, and quota counted from usage without reservations.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MYSQL_OPTS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def upgrade():
    op.create_table(
        "resources",
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("compute_node_id", sa.Integer(), nullable=False),
        sa.Column("resource_class", sa.String(255), nullable=False),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("identifier", sa.String(255), nullable=False),
        sa.Column("locator", sa.String(1024), nullable=True),
        sa.Column("metadata", sa.Text(), nullable=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.UniqueConstraint("uuid"),
        sa.UniqueConstraint(
            "compute_node_id",
            "identifier",
            name="uniq_resources0compute_node_id0identifier",
        ),
        sa.ForeignKeyConstraint(
            ["compute_node_id"],
            ["compute_nodes.id"],
            name="fk_resources_compute_node_id",
        ),
        **MYSQL_OPTS,
    )
    op.create_index(
        "resources_resource_class_idx",
        "resources",
        ["compute_node_id", "resource_class"],
    )
    op.create_table(
        "quota_limits",
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("resource_class", sa.String(255), nullable=False),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
        sa.UniqueConstraint(
            "project_id",
            "resource_class",
            name="uniq_quota_limits0project_id0resource_class",
        ),
        **MYSQL_OPTS,
    )
    op.create_table(
        "project_quota_anchors",
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.UniqueConstraint("project_id"),
        **MYSQL_OPTS,
    )
