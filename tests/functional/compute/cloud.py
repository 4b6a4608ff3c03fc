"""Two simulated compute hosts on this machine with a real sshd on 127.0.0.1
between them, on the tracker's real DB: the cloud the compute tests drive."""

import os
import time

from pmemtrack.compute import api as compute_api
from tests.fixtures import hosts

MiB = 1024 * 1024
RUNNING, SHUTDOWN = 1, 4


class Cloud:
    def __init__(self, ctx, tmp_path, server, sizes=None, **migration):
        """``migration``: more [migration] options for both hosts."""
        sizes = sizes or {}
        self.ctx = ctx
        self.managers = {
            name: hosts.make_host(
                tmp_path,
                name,
                {"SMALL": 2, "BIG": 2},
                size=sizes.get(name, 8 * MiB),
                **hosts.ssh_options(server),
                **migration,
            )
            for name in ("compute1", "compute2")
        }
        for manager in self.managers.values():
            manager.init_host(ctx)
        self.api = compute_api.ComputeAPI(self.managers, allow_resize_to_same_host=True)

    def boot(self, pmem, host="compute1"):
        return self.api.create(self.ctx, hosts.flavor(pmem), host, "project-a")

    def driver(self, host):
        return self.managers[host].driver

    def free(self, host):
        tracker = self.managers[host].tracker
        return sorted(ns.name for ns in tracker.free_namespaces(self.ctx, host))


def wait_until_all_free(cloud, host, timeout=60):
    """The host's wipe pass, again and again, until every namespace is free:
    a namespace a failed copy wrote stays dirty (out of the pool) while the
    killed writer on the destination may still be alive, then is wiped."""
    expected = sorted(namespaces_of(cloud, host))
    deadline = time.monotonic() + timeout
    while cloud.free(host) != expected and time.monotonic() < deadline:
        cloud.managers[host].wipe_released(cloud.ctx)
        time.sleep(0.2)
    return cloud.free(host) == expected


def devpaths(resources):
    return [r.metadata.devpath for r in resources.objects]


def fill(instance, seed=b"A"):
    """Distinct data in each of the instance's namespaces; returns it."""
    written = {}
    for i, path in enumerate(devpaths(instance.resources)):
        data = os.urandom(3 * MiB) + seed * MiB + bytes([i]) * 100
        hosts.write_device(path, data, offset=MiB)
        written[path] = hosts.read_device(path)
    return written


def is_zero(path):
    return not hosts.read_device(path).strip(b"\x00")


def namespaces_of(cloud, host):
    """{name: devpath} of every namespace ``host`` offers."""
    return {ns.name: ns.devpath for ns in cloud.driver(host).get_pmem_namespaces(host)}


def assert_every_free_namespace_is_zero(cloud, host):
    free = set(cloud.free(host))
    for name, path in namespaces_of(cloud, host).items():
        if name in free:
            assert is_zero(path), f"{host}/{name} is free but holds data"


# The steps a crash can stop a move after, in order.
MOVE_STEPS = ("accepted", "claimed", "copied", "landed")


def crash_mid_move(cloud, instance, flavor="BIG", landed=False, dest="compute2",
                   until=None, copy=True):  # fmt: skip
    """The steps of a move up to ``until`` (default: the copy, or its landing),
    then the process running it dies: nothing rolls back, nothing gives the
    task back."""
    until = until or ("landed" if landed else "copied")
    source = cloud.managers[instance.host]
    target = cloud.managers[dest]
    new_flavor = hosts.flavor(flavor)
    instance.task_state = "resize_prep"
    instance.save(expected_task_state=[None])
    migration = cloud.api._new_migration(cloud.ctx, instance, new_flavor, dest, copy)
    steps = (
        ("claimed", lambda: target.prep_resize(
            cloud.ctx, instance, migration, new_flavor)),
        ("copied", lambda: source.resize_instance(
            cloud.ctx, instance, migration, "127.0.0.1")),
        ("landed", lambda: target.tracker.apply_migration_context(
            cloud.ctx, instance, migration)),
    )  # fmt: skip
    for name, step in steps:
        if MOVE_STEPS.index(name) > MOVE_STEPS.index(until):
            break
        step()
    return migration
