"""Instance and its instance_extra blobs on every backend."""

import pytest
import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.db import api as db_api
from tests.unit.objects import test_resource

UUID = "c0ffee00-1111-4222-8333-444455556666"


def _flavor(pmem="4GB"):
    return objects.Flavor(
        flavorid="f1",
        name="pmem.small",
        memory_mb=1024,
        vcpus=1,
        extra_specs={"hw:pmem": pmem},
    )


def _instance(ctx, uuid=UUID, host="compute1", node="compute1", **kwargs):
    kwargs.setdefault("project_id", "project-a")
    instance = objects.Instance(
        ctx,
        uuid=uuid,
        user_id="user-a",
        host=host,
        node=node,
        vm_state="active",
        power_state=1,
        flavor=_flavor(),
        resources=None,
        migration_context=None,
        **kwargs,
    )
    instance.create()
    return instance


def _resources(*names):
    return objects.ResourceList(
        objects=[
            test_resource._resource(name, f"/dev/dax0.{i}")
            for i, name in enumerate(names)
        ]
    )


def test_create_and_get_loads_blobs_on_demand(ctx):
    _instance(ctx)
    found = objects.Instance.get_by_uuid(ctx, UUID)
    assert not found.obj_attr_is_set("resources")
    assert found.resources is None
    assert found.flavor.pmem_labels() == ["4GB"]
    assert found.project_id == "project-a"


def test_resources_blob_is_saved_and_read_back(ctx):
    instance = _instance(ctx)
    instance.resources = _resources("ns_0", "ns_1")
    instance.save()
    found = objects.Instance.get_by_uuid(ctx, UUID, expected_attrs=["resources"])
    assert found.resources.objects == instance.resources.objects


def test_a_blob_written_by_nova_reads_as_is(ctx, db_engine):
    _instance(ctx)
    with db_engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE instance_extra SET resources = :blob"),
            {"blob": test_resource.NOVA_BLOB},
        )
    found = objects.Instance.get_by_uuid(ctx, UUID, expected_attrs=["resources"])
    assert [r.identifier for r in found.resources] == ["ns_0"]
    assert found.resources[0].metadata.devpath == "/dev/dax0.0"


def test_corrupted_blob_in_the_db_names_instance_and_column(ctx, db_engine):
    _instance(ctx)
    with db_engine.begin() as conn:
        conn.execute(sa.text("UPDATE instance_extra SET resources = '{\"half'"))
    with pytest.raises(exception.CorruptedBlob) as err:
        objects.Instance.get_by_uuid(ctx, UUID, expected_attrs=["resources"])
    assert UUID in str(err.value)
    assert "instance_extra.resources" in str(err.value)
    lazy = objects.Instance.get_by_uuid(ctx, UUID)
    with pytest.raises(exception.CorruptedBlob):
        lazy.obj_load_attr("resources")


def test_migration_context_keeps_both_sides(ctx):
    instance = _instance(ctx)
    instance.migration_context = objects.MigrationContext(
        instance_uuid=UUID,
        migration_id=7,
        old_resources=_resources("ns_0"),
        new_resources=_resources("ns_5"),
    )
    instance.save()
    context = objects.Instance.get_by_uuid(ctx, UUID).migration_context
    assert [r.identifier for r in context.old_resources] == ["ns_0"]
    assert [r.identifier for r in context.new_resources] == ["ns_5"]
    instance.migration_context = None
    instance.save()
    assert objects.Instance.get_by_uuid(ctx, UUID).migration_context is None


def test_nested_change_is_saved(ctx):
    instance = _instance(ctx)
    instance.resources = _resources("ns_0")
    instance.save()
    instance.resources[0].metadata.label = "MEDIUM"
    instance.save()
    found = objects.Instance.get_by_uuid(ctx, UUID, expected_attrs=["resources"])
    assert found.resources[0].metadata.label == "MEDIUM"


def test_lists_by_host_node_and_project_skip_deleted(ctx):
    _instance(ctx, "00000000-0000-4000-8000-000000000001")
    _instance(ctx, "00000000-0000-4000-8000-000000000002", node="compute1b")
    gone = _instance(ctx, "00000000-0000-4000-8000-000000000003")
    _instance(ctx, "00000000-0000-4000-8000-000000000004", project_id="project-b")
    gone.destroy()
    on_node = objects.InstanceList.get_by_host_and_node(
        ctx, "compute1", "compute1", expected_attrs=["resources"]
    )
    assert sorted(i.uuid[-1] for i in on_node) == ["1", "4"]
    assert len(objects.InstanceList.get_by_host(ctx, "compute1")) == 3
    assert len(objects.InstanceList.get_by_project(ctx, "project-a")) == 2
    with pytest.raises(exception.InstanceNotFound, match=gone.uuid):
        objects.Instance.get_by_uuid(ctx, gone.uuid)


def test_unknown_expected_attr_is_refused(ctx):
    with pytest.raises(exception.ObjectActionError, match="numa"):
        objects.Instance.get_by_uuid(ctx, UUID, expected_attrs=["numa"])


def test_a_placement_shows_on_the_object_only_once_its_transaction_commits(ctx):
    instance = _instance(ctx, host=None, node=None)
    with pytest.raises(RuntimeError):
        with db_api.context_manager.writer.using(ctx):
            instance.place(ctx, "compute2", "compute2", _resources("ns0"))
            raise RuntimeError("the claim lost its race")
    assert (instance.host, instance.resources) == (None, None)
    stored = objects.Instance.get_by_uuid(ctx, UUID, ["resources"])
    assert (stored.host, stored.resources) == (None, None)

    with db_api.context_manager.writer.using(ctx):
        instance.place(ctx, "compute2", "compute2", _resources("ns0"))
        assert instance.host is None  # not committed yet

    assert instance.host == "compute2"
    assert [r.identifier for r in instance.resources] == ["ns0"]
    assert instance.obj_what_changed() == set()
    stored = objects.Instance.get_by_uuid(ctx, UUID, ["resources"])
    assert stored.host == "compute2"
    assert [r.identifier for r in stored.resources] == ["ns0"]


def test_deleting_a_deleted_instance_says_it_is_gone(ctx):
    instance = _instance(ctx)
    instance.destroy()
    with pytest.raises(exception.InstanceNotFound):
        instance.destroy()


def test_an_instance_read_from_the_db_has_no_pending_change(ctx):
    instance = _instance(ctx)
    instance.resources = _resources("ns_0")
    instance.save()
    found = objects.Instance.get_by_uuid(
        ctx, UUID, ["flavor", "resources", "migration_context"]
    )
    assert found.obj_get_changes() == {}
    lazily = objects.Instance.get_by_uuid(ctx, UUID)
    assert lazily.resources[0].identifier == "ns_0"
    assert lazily.obj_get_changes() == {}


def test_taking_the_task_state_never_writes_back_namespaces_read_before(ctx):
    """An operation that read the instance, then takes it once another one
    gave it back, must not write back the namespaces it read: they may have
    moved on (a revert, a confirm), and the old blob would hold them again."""
    instance = _instance(ctx)
    instance.resources = _resources("ns_0")
    instance.save()
    stale = objects.Instance.get_by_uuid(ctx, UUID, ["resources", "migration_context"])
    moved_on = objects.Instance.get_by_uuid(ctx, UUID, ["resources"])
    moved_on.resources = _resources("ns_5")
    moved_on.save()

    stale.task_state = "resize_confirming"
    stale.save(expected_task_state=[None])

    found = objects.Instance.get_by_uuid(ctx, UUID, ["resources"])
    assert [r.identifier for r in found.resources] == ["ns_5"]
    assert found.task_state == "resize_confirming"
