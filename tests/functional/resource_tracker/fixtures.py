"""A small cloud for tracker tests: fake hypervisors, real DB, real trackers."""

import uuid

from pmemtrack import objects
from pmemtrack.conf import CONF
from pmemtrack.resource_tracker import tracker as rt
from tests.fixtures import fake_driver


def flavor(pmem=None, name=None):
    extra_specs = {"hw:pmem": pmem} if pmem else {}
    return objects.Flavor(
        flavorid=name or f"f-{pmem}",
        name=name or f"pmem-{pmem}",
        memory_mb=1024,
        vcpus=1,
        extra_specs=extra_specs,
    )


class Cloud:
    """Hosts with one node each (node name = host name) and their trackers."""

    def __init__(self, ctx, conf=CONF):
        self.ctx = ctx
        self.conf = conf
        self.driver = {}
        self.tracker = {}

    def add_host(self, host, **labels):
        """add_host('compute1', MEDIUM=4) gives ns0..ns3 labelled MEDIUM."""
        driver = fake_driver.FakeDriver()
        start = 0
        for label, count in labels.items():
            numa_layout = count if isinstance(count, tuple) else (count,)
            for numa_node, n in enumerate(numa_layout):
                driver.add_namespaces(host, label, n, numa_node=numa_node, start=start)
                start += n
        self.driver[host] = driver
        self.tracker[host] = rt.ResourceTracker(host, driver, conf=self.conf)
        self.tracker[host].update_available_resource(self.ctx, host)
        return self.tracker[host]

    def restart(self, host):
        """A new tracker process on the same host: nothing kept in memory."""
        self.tracker[host] = rt.ResourceTracker(host, self.driver[host], conf=self.conf)
        return self.tracker[host]

    def new_instance(self, pmem=None, project_id="project-a"):
        instance = objects.Instance(
            self.ctx,
            uuid=str(uuid.uuid4()),
            project_id=project_id,
            user_id="user-a",
            vm_state="building",
            flavor=flavor(pmem),
            resources=None,
            migration_context=None,
        )
        instance.create()
        return instance

    def boot(self, host, pmem, project_id="project-a"):
        instance = self.new_instance(pmem, project_id)
        claim = self.tracker[host].instance_claim(self.ctx, instance, host)
        names = [r.identifier for r in claim.resources or []]
        self.driver[host].start_guest(host, instance.uuid, names)
        return instance

    def delete(self, instance):
        host = instance.host
        self.driver[host].stop_guest(host, instance.uuid)
        self.tracker[host].delete_instance(self.ctx, instance, host)

    def migration(self, instance, dest, new_pmem, migration_type="resize"):
        migration = objects.Migration(
            self.ctx,
            instance_uuid=instance.uuid,
            source_compute=instance.host,
            source_node=instance.node,
            dest_compute=dest,
            dest_node=dest,
            migration_type=migration_type,
            status="pre-migrating",
            old_flavor=instance.flavor,
            new_flavor=flavor(new_pmem),
        )
        migration.create()
        return migration

    def finish(self, instance, migration):
        """finish_resize: the guest now runs on the destination."""
        source, dest = migration.source_compute, migration.dest_compute
        self.driver[source].stop_guest(source, instance.uuid)
        self.tracker[dest].apply_migration_context(self.ctx, instance, migration)
        self.driver[dest].start_guest(dest, instance.uuid, names(instance.resources))

    def confirm(self, instance, migration):
        self.tracker[migration.source_compute].drop_move_claim_at_source(
            self.ctx, instance, migration
        )

    def revert(self, instance, migration):
        """revert_resize: the guest runs on the source again, as before."""
        source, dest = migration.source_compute, migration.dest_compute
        self.driver[dest].stop_guest(dest, instance.uuid)
        self.tracker[dest].drop_move_claim_at_dest(self.ctx, instance, migration)
        self.driver[source].start_guest(
            source, instance.uuid, names(instance.resources)
        )

    def free(self, host):
        """Names a claim could take now, in the order a claim takes them."""
        return [ns.name for ns in self.tracker[host].free_namespaces(self.ctx, host)]


def names(resources):
    return sorted((r.identifier for r in resources or []), key=lambda n: int(n[2:]))
