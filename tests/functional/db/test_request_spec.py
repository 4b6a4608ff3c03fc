"""RequestSpec persisted per instance, on every backend."""

import pytest
import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack import objects
from tests.functional.db.test_instance import _flavor

INSTANCE = "c0ffee00-1111-4222-8333-444455556666"


def _spec(ctx, **kwargs):
    return objects.RequestSpec(
        ctx,
        instance_uuid=INSTANCE,
        project_id="project-a",
        user_id="user-a",
        flavor=_flavor("4GB,MEDIUM"),
        pmem_labels=["4GB", "MEDIUM"],
        **kwargs,
    )


def test_save_and_get_keep_every_constraint(ctx):
    _spec(
        ctx,
        pmem_numa_policy="require-single-node",
        numa_nodes=2,
        availability_zone="az1",
        ignore_hosts=["compute9"],
        scheduler_hints={"group": ["g1"]},
    ).save()
    spec = objects.RequestSpec.get_by_instance_uuid(ctx, INSTANCE)
    assert spec.pmem_labels == ["4GB", "MEDIUM"]
    assert spec.pmem_numa_policy == "require-single-node"
    assert spec.numa_nodes == 2
    assert spec.ignore_hosts == ["compute9"]
    assert spec.scheduler_hints == {"group": ["g1"]}
    assert spec.flavor.name == "pmem.small"


def test_save_again_replaces_the_spec(ctx):
    spec = _spec(ctx)
    spec.save()
    spec.flavor = _flavor("LARGE")
    spec.pmem_labels = ["LARGE"]
    spec.save()
    assert objects.RequestSpec.get_by_instance_uuid(ctx, INSTANCE).pmem_labels == [
        "LARGE"
    ]


def test_defaults_and_destroy(ctx):
    _spec(ctx).save()
    spec = objects.RequestSpec.get_by_instance_uuid(ctx, INSTANCE)
    assert spec.pmem_numa_policy == "prefer-single-node"
    spec.destroy()
    with pytest.raises(exception.RequestSpecNotFound, match=INSTANCE):
        objects.RequestSpec.get_by_instance_uuid(ctx, INSTANCE)
    with pytest.raises(exception.RequestSpecNotFound):
        spec.destroy()


def test_unreadable_spec_names_the_instance(ctx, db_engine):
    _spec(ctx).save()
    with db_engine.begin() as conn:
        conn.execute(sa.text("UPDATE request_specs SET spec = 'garbage'"))
    with pytest.raises(exception.CorruptedRequestSpec, match=INSTANCE):
        objects.RequestSpec.get_by_instance_uuid(ctx, INSTANCE)
