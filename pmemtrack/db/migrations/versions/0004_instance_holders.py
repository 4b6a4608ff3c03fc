"""A marker on the instances that may hold resources, so a claim reads only
those of its node.

A claim subtracts from the node's namespaces what the blobs of the node's
instances name. On a mixed host most instances hold no namespace; without an
indexed marker the claim had to join every instance of the host to its
instance_extra row to find the few that do. ``holds_resources`` is true
whenever the instance's ``resources`` or ``migration_context`` blob is set
(it may stay true after they are cleared: a superset is safe, a subset never).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN with a default, which SQLite supports too (a batch
    # copy of the table would trip over instance_extra's foreign key).
    op.add_column(
        "instances",
        sa.Column(
            "holds_resources",
            sa.Boolean(name="instances_holds_resources_bool"),
            nullable=False,
            server_default=sa.false(),
        ),
    )
    # UPDATE instances SET holds_resources = true WHERE uuid IN (
    #   SELECT instance_uuid FROM instance_extra
    #    WHERE resources IS NOT NULL OR migration_context IS NOT NULL)
    extra = sa.table(
        "instance_extra",
        sa.column("instance_uuid"),
        sa.column("resources"),
        sa.column("migration_context"),
    )
    instances = sa.table("instances", sa.column("uuid"), sa.column("holds_resources"))
    holders = sa.select(extra.c.instance_uuid).where(
        sa.or_(extra.c.resources.is_not(None), extra.c.migration_context.is_not(None))
    )
    op.execute(
        sa.update(instances)
        .where(instances.c.uuid.in_(holders))
        .values(holds_resources=sa.true())
    )
    op.create_index(
        "instances_holders_on_node_idx",
        "instances",
        ["host", "node", "holds_resources", "deleted"],
    )
    op.create_index(
        "instances_holders_of_project_idx",
        "instances",
        ["project_id", "holds_resources", "deleted"],
    )
