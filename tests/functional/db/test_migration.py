"""Migration on every backend: create, save, and which moves are in progress."""

import pytest

from pmemtrack import exception
from pmemtrack import objects
from tests.functional.db.test_instance import _flavor

INSTANCE = "c0ffee00-1111-4222-8333-444455556666"


def _migration(ctx, source=("src", "src"), dest=("dst", "dst"), **kwargs):
    kwargs.setdefault("status", "pre-migrating")
    migration = objects.Migration(
        ctx,
        instance_uuid=INSTANCE,
        source_compute=source[0],
        source_node=source[1],
        dest_compute=dest[0],
        dest_node=dest[1],
        migration_type="resize",
        old_flavor=_flavor("4GB"),
        new_flavor=_flavor("4GB,4GB"),
        **kwargs,
    )
    migration.create()
    return migration


def test_copy_pmem_devices_defaults_to_false(ctx):
    migration = _migration(ctx)
    found = objects.Migration.get_by_uuid(ctx, migration.uuid)
    assert found.copy_pmem_devices is False
    assert found.new_flavor.pmem_labels() == ["4GB", "4GB"]
    assert not found.is_same_host


def test_copy_pmem_devices_is_stored(ctx):
    migration = _migration(ctx, copy_pmem_devices=True)
    assert objects.Migration.get_by_id(ctx, migration.id).copy_pmem_devices is True


def test_in_progress_by_host_and_node_sees_both_ends(ctx):
    running = _migration(ctx)
    done = _migration(ctx)
    done.status = "confirmed"
    done.save()
    same_host = _migration(ctx, source=("dst", "dst"), dest=("dst", "dst"))
    assert same_host.is_same_host
    at_src = objects.MigrationList.get_in_progress_by_host_and_node(ctx, "src", "src")
    at_dst = objects.MigrationList.get_in_progress_by_host_and_node(ctx, "dst", "dst")
    assert [m.uuid for m in at_src] == [running.uuid]
    assert [m.uuid for m in at_dst] == [running.uuid, same_host.uuid]
    assert len(objects.MigrationList.get_by_instance(ctx, INSTANCE)) == 3


def test_invalid_type_and_unknown_uuid(ctx):
    with pytest.raises(ValueError):
        objects.Migration(ctx, migration_type="live-migration")
    with pytest.raises(exception.MigrationNotFound):
        objects.Migration.get_by_uuid(ctx, "00000000-0000-4000-8000-00000000dead")


def test_a_migration_read_from_the_db_has_no_pending_change(ctx):
    """Its flavor blobs carry their writer's change marks; a status change
    must not write them back."""
    migration = _migration(ctx)
    found = objects.Migration.get_by_uuid(ctx, migration.uuid)
    assert found.obj_get_changes() == {}
