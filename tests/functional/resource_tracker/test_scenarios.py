"""The operator's stories, on a real database: boot, resize, revert, confirm,
delete, orphans, restarts, relabelling and quota."""

import pytest

from pmemtrack import exception
from pmemtrack import objects
from tests.functional.resource_tracker.fixtures import Cloud
from tests.functional.resource_tracker.fixtures import flavor
from tests.functional.resource_tracker.fixtures import names


@pytest.fixture
def cloud(ctx):
    return Cloud(ctx)


def _reloaded(ctx, instance):
    return objects.Instance.get_by_uuid(
        ctx, instance.uuid, expected_attrs=["resources", "migration_context"]
    )


def test_fill_exhaust_delete_and_reuse(cloud, ctx):
    cloud.add_host("compute1", MEDIUM=3)
    first = cloud.boot("compute1", "MEDIUM")
    second = cloud.boot("compute1", "MEDIUM,MEDIUM")
    assert names(first.resources) == ["ns0"]
    assert names(second.resources) == ["ns1", "ns2"]
    assert cloud.free("compute1") == []

    with pytest.raises(exception.ComputeResourcesUnavailable) as refused:
        cloud.boot("compute1", "medium")
    assert "label medium" in str(refused.value)
    assert "wanted 1, 0 free" in str(refused.value)

    cloud.delete(second)
    assert cloud.driver["compute1"].wiped == [
        ("/dev/dax0.1", "ns1"),
        ("/dev/dax0.2", "ns2"),
    ]
    assert cloud.free("compute1") == ["ns1", "ns2"]
    third = cloud.boot("compute1", "MEDIUM,MEDIUM")
    assert names(third.resources) == ["ns1", "ns2"]
    assert names(_reloaded(ctx, first).resources) == ["ns0"]


def test_nothing_written_when_refused(cloud, ctx, db_engine):
    cloud.add_host("compute1", MEDIUM=1)
    instance = cloud.new_instance("MEDIUM,MEDIUM")
    generation = objects.ComputeNode.get_by_host_and_nodename(
        ctx, "compute1", "compute1"
    ).generation
    with pytest.raises(exception.ComputeResourcesUnavailable):
        cloud.tracker["compute1"].instance_claim(ctx, instance, "compute1")
    stored = _reloaded(ctx, instance)
    assert stored.host is None and stored.resources is None
    node = objects.ComputeNode.get_by_host_and_nodename(ctx, "compute1", "compute1")
    assert node.generation == generation


def test_labels_are_normalised_and_unknown_labels_refused_before_writing(cloud, ctx):
    cloud.add_host("compute1", MEDIUM=2, large=1)
    both = cloud.boot("compute1", "medium,Large")
    assert sorted(r.resource_class for r in both.resources) == [
        "CUSTOM_PMEM_NAMESPACE_LARGE",
        "CUSTOM_PMEM_NAMESPACE_MEDIUM",
    ]
    instance = cloud.new_instance("MEDIUM,HUGE")
    with pytest.raises(exception.PmemLabelUnknown) as err:
        cloud.tracker["compute1"].instance_claim(ctx, instance, "compute1")
    assert "HUGE" in str(err.value) and "offers: MEDIUM, large" in str(err.value)
    assert _reloaded(ctx, instance).resources is None
    assert cloud.free("compute1") == ["ns1"]


def test_claim_takes_one_numa_node_when_one_can_satisfy(cloud):
    cloud.add_host("compute1", MEDIUM=(1, 2))
    pair = cloud.boot("compute1", "MEDIUM,MEDIUM")
    assert names(pair.resources) == ["ns1", "ns2"]  # both on NUMA node 1
    single = cloud.boot("compute1", "MEDIUM")
    assert names(single.resources) == ["ns0"]


def test_require_single_numa_node_refuses_a_spread(cloud, ctx):
    cloud.add_host("compute1", MEDIUM=(1, 1))
    instance = cloud.new_instance("MEDIUM,MEDIUM")
    spec = objects.RequestSpec(
        ctx,
        instance_uuid=instance.uuid,
        project_id=instance.project_id,
        user_id=instance.user_id,
        flavor=instance.flavor,
        pmem_labels=["MEDIUM", "MEDIUM"],
        pmem_numa_policy="require-single-node",
    )
    with pytest.raises(exception.PmemNumaUnsatisfiable, match="single host NUMA"):
        cloud.tracker["compute1"].instance_claim(ctx, instance, "compute1", spec)
    spec.pmem_numa_policy = "prefer-single-node"
    claim = cloud.tracker["compute1"].instance_claim(ctx, instance, "compute1", spec)
    assert names(claim.resources) == ["ns0", "ns1"]


def test_claim_context_manager_aborts_and_wipes_on_failure(cloud, ctx):
    cloud.add_host("compute1", MEDIUM=1)
    instance = cloud.new_instance("MEDIUM")
    with pytest.raises(RuntimeError, match="spawn failed"):
        with cloud.tracker["compute1"].instance_claim(ctx, instance, "compute1"):
            raise RuntimeError("spawn failed")
    assert cloud.driver["compute1"].wiped == [("/dev/dax0.0", "ns0")]
    assert _reloaded(ctx, instance).resources is None
    assert cloud.free("compute1") == ["ns0"]


def _resize(cloud, ctx, instance, dest, new_pmem, migration_type="resize"):
    migration = cloud.migration(instance, dest, new_pmem, migration_type)
    claim = cloud.tracker[dest].resize_claim(
        ctx, instance, migration.new_flavor, dest, migration
    )
    return migration, claim


def test_resize_to_another_host_then_confirm(cloud, ctx):
    cloud.add_host("src", MEDIUM=2)
    cloud.add_host("dst", MEDIUM=2)
    instance = cloud.boot("src", "MEDIUM")
    migration, claim = _resize(cloud, ctx, instance, "dst", "MEDIUM,MEDIUM")
    assert names(claim.resources) == ["ns0", "ns1"]
    assert cloud.free("dst") == [] and cloud.free("src") == ["ns1"]

    cloud.finish(instance, migration)
    assert (instance.host, names(instance.resources)) == ("dst", ["ns0", "ns1"])
    assert cloud.free("src") == ["ns1"]  # old kept until confirm

    cloud.confirm(instance, migration)
    assert cloud.driver["src"].wiped == [("/dev/dax0.0", "ns0")]
    assert cloud.driver["dst"].wiped == []
    assert cloud.free("src") == ["ns0", "ns1"] and cloud.free("dst") == []
    stored = _reloaded(ctx, instance)
    assert stored.migration_context is None
    assert (stored.host, names(stored.resources)) == ("dst", ["ns0", "ns1"])


def test_resize_to_another_host_then_revert_keeps_source_data(cloud, ctx):
    cloud.add_host("src", MEDIUM=1)
    cloud.add_host("dst", MEDIUM=1)
    instance = cloud.boot("src", "MEDIUM")
    migration, _ = _resize(cloud, ctx, instance, "dst", "MEDIUM")
    cloud.finish(instance, migration)
    cloud.revert(instance, migration)
    assert cloud.driver["dst"].wiped == [("/dev/dax0.0", "ns0")]
    assert cloud.driver["src"].wiped == []  # the source's data is untouched
    stored = _reloaded(ctx, instance)
    assert (stored.host, names(stored.resources)) == ("src", ["ns0"])
    assert stored.migration_context is None
    assert cloud.free("dst") == ["ns0"] and cloud.free("src") == []


@pytest.mark.parametrize("ending", ["confirm", "revert"])
def test_same_host_resize_keeps_source_and_target_apart(cloud, ctx, ending):
    cloud.add_host("compute1", MEDIUM=4)
    instance = cloud.boot("compute1", "MEDIUM")
    migration, claim = _resize(cloud, ctx, instance, "compute1", "MEDIUM,MEDIUM")
    assert names(claim.resources) == ["ns1", "ns2"]
    assert cloud.free("compute1") == ["ns3"]
    cloud.finish(instance, migration)
    if ending == "confirm":
        cloud.confirm(instance, migration)
        assert cloud.driver["compute1"].wiped == [("/dev/dax0.0", "ns0")]
        assert names(_reloaded(ctx, instance).resources) == ["ns1", "ns2"]
        assert cloud.free("compute1") == ["ns0", "ns3"]
    else:
        cloud.revert(instance, migration)
        assert cloud.driver["compute1"].wiped == [
            ("/dev/dax0.1", "ns1"),
            ("/dev/dax0.2", "ns2"),
        ]
        assert names(_reloaded(ctx, instance).resources) == ["ns0"]
        assert cloud.free("compute1") == ["ns1", "ns2", "ns3"]


def test_same_host_cold_migration(cloud, ctx):
    cloud.add_host("compute1", MEDIUM=2)
    instance = cloud.boot("compute1", "MEDIUM")
    migration, claim = _resize(
        cloud, ctx, instance, "compute1", "MEDIUM", migration_type="migration"
    )
    assert names(claim.resources) == ["ns1"]
    cloud.finish(instance, migration)
    cloud.confirm(instance, migration)
    assert names(_reloaded(ctx, instance).resources) == ["ns1"]
    assert cloud.free("compute1") == ["ns0"]


def test_a_second_move_while_one_is_in_progress_is_refused(cloud, ctx):
    cloud.add_host("compute1", MEDIUM=3)
    instance = cloud.boot("compute1", "MEDIUM")
    _resize(cloud, ctx, instance, "compute1", "MEDIUM")
    with pytest.raises(exception.InvalidClaim, match="another move is in progress"):
        _resize(cloud, ctx, instance, "compute1", "MEDIUM")
    assert cloud.free("compute1") == ["ns2"]


def test_a_move_claim_with_a_migration_from_elsewhere_is_refused(cloud, ctx):
    # A move's blob must name a migration that joins its two nodes: claims on
    # those nodes find the move through it. A migration recorded for another
    # instance, or from another host, is refused before anything is written.
    cloud.add_host("src", MEDIUM=1)
    cloud.add_host("dst", MEDIUM=2)
    instance = cloud.boot("src", "MEDIUM")
    other = cloud.boot("dst", "MEDIUM")
    foreign = cloud.migration(other, "dst", "MEDIUM")
    with pytest.raises(exception.InvalidClaim, match="does not lead from"):
        cloud.tracker["dst"].resize_claim(
            ctx, instance, foreign.new_flavor, "dst", foreign
        )
    from_elsewhere = cloud.migration(instance, "dst", "MEDIUM")
    from_elsewhere.source_compute = from_elsewhere.source_node = "elsewhere"
    from_elsewhere.save()
    with pytest.raises(exception.InvalidClaim, match="does not lead from"):
        cloud.tracker["dst"].resize_claim(
            ctx, instance, from_elsewhere.new_flavor, "dst", from_elsewhere
        )
    assert _reloaded(ctx, instance).migration_context is None
    assert cloud.free("dst") == ["ns1"]


def test_failed_move_claim_aborts_through_the_context_manager(cloud, ctx):
    cloud.add_host("src", MEDIUM=1)
    cloud.add_host("dst", MEDIUM=1)
    instance = cloud.boot("src", "MEDIUM")
    migration = cloud.migration(instance, "dst", "MEDIUM")
    with pytest.raises(RuntimeError):
        with cloud.tracker["dst"].resize_claim(
            ctx, instance, migration.new_flavor, "dst", migration
        ):
            raise RuntimeError("copy failed")
    assert cloud.free("dst") == ["ns0"]
    stored = _reloaded(ctx, instance)
    assert (stored.host, names(stored.resources)) == ("src", ["ns0"])


def test_tracker_restarted_mid_resize_sees_the_same_assignments(cloud, ctx):
    cloud.add_host("src", MEDIUM=2)
    cloud.add_host("dst", MEDIUM=2)
    instance = cloud.boot("src", "MEDIUM")
    migration, _ = _resize(cloud, ctx, instance, "dst", "MEDIUM")
    before = (cloud.free("src"), cloud.free("dst"))
    for host in ("src", "dst"):
        cloud.restart(host).update_available_resource(ctx, host)
    assert (cloud.free("src"), cloud.free("dst")) == before == (["ns1"], ["ns1"])
    cloud.finish(instance, migration)
    cloud.confirm(instance, migration)
    assert cloud.free("src") == ["ns0", "ns1"]


def test_orphan_blocks_its_namespace_and_is_reported(cloud, ctx, db_engine):
    cloud.add_host("compute1", MEDIUM=2)
    instance = cloud.boot("compute1", "MEDIUM")
    # Deleted in the DB while compute1 was down: the guest still runs there.
    instance.destroy()
    report = cloud.tracker["compute1"].update_available_resource(ctx, "compute1")
    assert report["orphans"] == {"ns0": instance.uuid}
    assert cloud.free("compute1") == ["ns1"]
    other = cloud.boot("compute1", "MEDIUM")
    assert names(other.resources) == ["ns1"]
    with pytest.raises(exception.ComputeResourcesUnavailable):
        cloud.boot("compute1", "MEDIUM")
    cloud.driver["compute1"].stop_guest("compute1", instance.uuid)
    assert cloud.free("compute1") == ["ns0"]


def test_relabelling_or_removing_a_held_namespace_keeps_the_claim(cloud, ctx):
    cloud.add_host("compute1", MEDIUM=2)
    instance = cloud.boot("compute1", "MEDIUM")
    driver, tracker = cloud.driver["compute1"], cloud.tracker["compute1"]
    driver.namespaces["compute1"] = []
    driver.add_namespaces("compute1", "LARGE", 2)
    report = tracker.update_available_resource(ctx, "compute1")
    assert sorted(report["updated"]) == ["ns0", "ns1"]
    assert cloud.free("compute1") == ["ns1"]
    with pytest.raises(exception.ComputeResourcesUnavailable):
        cloud.boot("compute1", "LARGE,LARGE")

    relabelled = list(driver.namespaces["compute1"])
    driver.namespaces["compute1"] = relabelled[1:]
    report = tracker.update_available_resource(ctx, "compute1")
    assert report["unavailable"] == ["ns0"]
    assert names(_reloaded(ctx, instance).resources) == ["ns0"]
    [row] = [
        r
        for r in objects.HostResourceList.get_by_compute_node(
            ctx, tracker._node(ctx, "compute1").id
        )
        if r.identifier == "ns0"
    ]
    assert row.state == "unavailable"
    cloud.delete(instance)
    report = tracker.update_available_resource(ctx, "compute1")
    # Released but never wiped (it is not there to wipe): the row stays,
    # dirty, so the namespace cannot come back with the tenant's data.
    assert (report["removed"], report["kept_dirty"]) == ([], ["ns0"])
    driver.namespaces["compute1"] = relabelled
    report = tracker.update_available_resource(ctx, "compute1")
    assert report["rewiped"] == ["ns0"]
    assert ("/dev/dax0.0", "ns0") in driver.wiped
    assert cloud.free("compute1") == ["ns0", "ns1"]


def test_failed_wipe_keeps_the_namespace_out_until_a_wipe_works(cloud, ctx):
    cloud.add_host("compute1", MEDIUM=1)
    instance = cloud.boot("compute1", "MEDIUM")
    cloud.driver["compute1"].failing_wipes.add("ns0")
    cloud.delete(instance)
    assert cloud.free("compute1") == []
    with pytest.raises(exception.ComputeResourcesUnavailable):
        cloud.boot("compute1", "MEDIUM")
    report = cloud.tracker["compute1"].update_available_resource(ctx, "compute1")
    assert report["rewiped"] == []
    cloud.driver["compute1"].failing_wipes.clear()
    report = cloud.tracker["compute1"].update_available_resource(ctx, "compute1")
    assert report["rewiped"] == ["ns0"]
    assert cloud.free("compute1") == ["ns0"]


def test_quota_at_and_over_the_limit(cloud, ctx):
    cloud.add_host("compute1", MEDIUM=4)
    cloud.add_host("compute2", MEDIUM=4)
    rc = "CUSTOM_PMEM_NAMESPACE_MEDIUM"
    objects.QuotaLimit.set(ctx, "project-a", rc, 3)
    cloud.boot("compute1", "MEDIUM,MEDIUM")
    at_limit = cloud.boot("compute2", "MEDIUM")
    with pytest.raises(exception.QuotaExceeded) as err:
        cloud.boot("compute2", "MEDIUM")
    assert str(err.value) == (
        "Quota exceeded for project project-a on CUSTOM_PMEM_NAMESPACE_MEDIUM: "
        "limit 3, in use 3, requested 1."
    )
    cloud.boot("compute2", "MEDIUM", project_id="project-b")
    # A resize that grows use past the limit is refused; the old claim stays.
    migration = cloud.migration(at_limit, "compute2", "MEDIUM,MEDIUM")
    with pytest.raises(exception.QuotaExceeded, match="in use 3, requested 1"):
        cloud.tracker["compute2"].resize_claim(
            ctx, at_limit, flavor("MEDIUM,MEDIUM"), "compute2", migration
        )
    # One that does not grow it passes even at the limit.
    cloud.tracker["compute2"].resize_claim(
        ctx, at_limit, flavor("MEDIUM"), "compute2", migration
    )
    cloud.delete(_reloaded(ctx, at_limit))
    cloud.boot("compute1", "MEDIUM")


def test_quota_defaults_from_config(cloud, ctx):
    from pmemtrack.conf import CONF

    CONF.set_override("class_limits", {"CUSTOM_PMEM_NAMESPACE_MEDIUM": 1}, "quota")
    try:
        cloud.add_host("compute1", MEDIUM=2)
        cloud.boot("compute1", "MEDIUM")
        with pytest.raises(exception.QuotaExceeded, match="limit 1"):
            cloud.boot("compute1", "MEDIUM")
        objects.QuotaLimit.set(ctx, "project-a", "CUSTOM_PMEM_NAMESPACE_MEDIUM", -1)
        cloud.boot("compute1", "MEDIUM")
    finally:
        CONF.clear_override("class_limits", "quota")


def test_flavor_without_pmem_places_the_instance_only(cloud, ctx):
    cloud.add_host("compute1", MEDIUM=1)
    instance = cloud.boot("compute1", None)
    stored = _reloaded(ctx, instance)
    assert (stored.host, stored.resources) == ("compute1", None)
    assert cloud.free("compute1") == ["ns0"]
