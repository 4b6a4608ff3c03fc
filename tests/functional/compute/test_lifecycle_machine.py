"""The lifecycle under random operations and crashes: a stateful property test.

Hypothesis drives the public compute API of two simulated hosts (a real sshd
on 127.0.0.1 between them, libvirt's test driver, a real DB of each backend):
create, delete, resize and cold migration (cross-host and same-host, with and
without copy), confirm, revert, evacuate, a host restart, a move whose process
dies at a random step, and periodic passes, some after the abandoned moves
have aged past the recovery threshold. After every step, from raw SQL and the
device files: no namespace named by two live instances, every free namespace
reads all zero, every live instance's data intact, and no move older than the
threshold left after a periodic pass.

PMEMTRACK_LIFECYCLE_EXAMPLES and PMEMTRACK_LIFECYCLE_STEPS make it run longer.
"""

import hashlib
import json
import os
import time

from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine
from hypothesis.stateful import invariant
from hypothesis.stateful import rule
from hypothesis.stateful import run_state_machine_as_test
import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack.db import models
from tests import conftest
from tests.fixtures import hosts
from tests.functional.compute.cloud import MOVE_STEPS
from tests.functional.compute.cloud import Cloud
from tests.functional.compute.cloud import crash_mid_move

EXAMPLES = int(os.environ.get("PMEMTRACK_LIFECYCLE_EXAMPLES", "3"))
STEPS = int(os.environ.get("PMEMTRACK_LIFECYCLE_STEPS", "25"))
HOSTS = ("compute1", "compute2")
FLAVORS = ("SMALL", "BIG", "SMALL,BIG")
# What an operation may answer without anything being wrong.
REFUSALS = (
    exception.ComputeResourcesUnavailable,
    exception.QuotaExceeded,
    exception.CopyNotPossible,
    exception.UnexpectedTaskStateError,
    exception.InvalidMoveRequest,
)
_I = models.Instance.__table__
_E = models.InstanceExtra.__table__
_R = models.HostResource.__table__
_CN = models.ComputeNode.__table__
_M = models.Migration.__table__


def _digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _keys(blob):
    """(provider_uuid, name) of each resource of a ResourceList blob, in order."""
    if blob is None:
        return []
    objects_ = json.loads(blob)["nova_object.data"]["objects"]
    return [
        (o["nova_object.data"]["provider_uuid"], o["nova_object.data"]["identifier"])
        for o in objects_
    ]


def _move_sides(blob):
    if blob is None:
        return [], []
    data = json.loads(blob)["nova_object.data"]
    return (
        _keys(json.dumps(data["old_resources"])) if data.get("old_resources") else [],
        _keys(json.dumps(data["new_resources"])) if data.get("new_resources") else [],
    )


class Lifecycle(RuleBasedStateMachine):
    # Set by the test before the machine runs: ctx, engine, tmp dirs, sshd.
    env = None

    def __init__(self):
        super().__init__()
        ctx, engine, make_tmp, server = self.env
        conftest._empty_all_tables(engine)
        self.engine = engine
        self.cloud = Cloud(ctx, make_tmp(), server)
        # uuid -> expected sha256 of each guest device, in the guest's order.
        self.expected = {}
        # uuid -> expected digests of the source side while a move waits.
        self.before_move = {}
        # uuids whose move was abandoned by a crash.
        self.stuck = set()
        self.instances = {}

    # -- helpers ------------------------------------------------------------

    def _device_paths(self):
        """(provider_uuid, name) -> devpath, and the names of free rows."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_CN.c.uuid, _R.c.identifier, _R.c.locator, _R.c.state).join(
                    _CN, _CN.c.id == _R.c.compute_node_id
                )
            ).all()
        return {(r.uuid, r.identifier): (r.locator, r.state) for r in rows}

    def _live_blobs(self):
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(_I.c.uuid, _E.c.resources, _E.c.migration_context)
                .join(_E, _E.c.instance_uuid == _I.c.uuid)
                .where(_I.c.deleted == 0)
            ).all()

    def _fill(self, instance):
        paths = self._device_paths()
        digests = []
        for key in _keys_of(instance.resources):
            path = paths[key][0]
            hosts.write_device(path, os.urandom(64 * 1024), offset=1024 * 1024)
            digests.append(_digest(path))
        self.expected[instance.uuid] = digests

    def _zeros(self, instance):
        return [hashlib.sha256(bytes(r.metadata.size)).hexdigest()
                for r in instance.resources or []]  # fmt: skip

    def _pick(self, data, *vm_states):
        candidates = sorted(
            uuid
            for uuid, instance in self.instances.items()
            if uuid not in self.stuck and instance.vm_state in vm_states
        )
        if not candidates:
            return None
        return self.instances[data.draw(st.sampled_from(candidates))]

    # -- operations -----------------------------------------------------------

    @rule(pmem=st.sampled_from(FLAVORS), host=st.sampled_from(HOSTS))
    def create(self, pmem, host):
        try:
            instance = self.cloud.boot(pmem, host)
        except REFUSALS:
            return
        self.instances[instance.uuid] = instance
        self._fill(instance)

    @rule(data=st.data())
    def delete(self, data):
        instance = self._pick(data, "active", "stopped", "resized")
        if instance is None:
            return
        self.cloud.api.delete(self.cloud.ctx, instance)
        for records in (self.instances, self.expected, self.before_move):
            records.pop(instance.uuid, None)

    @rule(
        data=st.data(),
        pmem=st.sampled_from(FLAVORS),
        host=st.sampled_from(HOSTS),
        copy=st.booleans(),
    )
    def resize(self, data, pmem, host, copy):
        instance = self._pick(data, "active")
        if instance is None:
            return
        old = list(self.expected[instance.uuid])
        try:
            self.cloud.api.resize(
                self.cloud.ctx, instance, hosts.flavor(pmem), host, copy
            )
        except REFUSALS + (exception.CopyFailed,):
            return
        zeros = self._zeros(instance)
        if copy:
            self.expected[instance.uuid] = old + zeros[len(old) :]
        else:
            self.expected[instance.uuid] = zeros
        self.before_move[instance.uuid] = old

    @rule(data=st.data())
    def confirm(self, data):
        instance = self._pick(data, "resized")
        if instance is not None:
            self.cloud.api.confirm(self.cloud.ctx, instance)
            self.before_move.pop(instance.uuid)

    @rule(data=st.data())
    def revert(self, data):
        instance = self._pick(data, "resized")
        if instance is not None:
            self.cloud.api.revert(self.cloud.ctx, instance)
            self.expected[instance.uuid] = self.before_move.pop(instance.uuid)

    @rule(data=st.data(), host=st.sampled_from(HOSTS))
    def evacuate(self, data, host):
        instance = self._pick(data, "active")
        if instance is None or instance.host == host:
            return
        try:
            self.cloud.api.evacuate(self.cloud.ctx, instance, host)
        except REFUSALS:
            instance.refresh()
            return
        self.expected[instance.uuid] = self._zeros(instance)

    @rule(host=st.sampled_from(HOSTS))
    def restart_host(self, host):
        manager = hosts.restart(self.cloud.managers[host])
        self.cloud.managers[host] = self.cloud.api.managers[host] = manager
        manager.init_host(self.cloud.ctx)

    @rule(
        data=st.data(),
        until=st.sampled_from(MOVE_STEPS),
        host=st.sampled_from(HOSTS),
        copy=st.booleans(),
    )
    def crash_during_a_move(self, data, until, host, copy):
        instance = self._pick(data, "active")
        if instance is None:
            return
        try:
            crash_mid_move(
                self.cloud, instance, "SMALL,BIG", dest=host, until=until, copy=copy
            )
        except REFUSALS + (exception.CopyFailed,):
            pass  # the crash came at the refusal: the move stays abandoned
        self.stuck.add(instance.uuid)

    @rule(aged=st.booleans())
    def periodic_pass(self, aged):
        if aged:
            self._age_everything()
        for manager in self.cloud.managers.values():
            manager.update_available_resource(self.cloud.ctx)
            manager.conf.clear_override("recovery_timeout", "migration")
        if aged:
            for uuid in self.stuck:
                self.instances[uuid].refresh()
            self.stuck.clear()
            with self.engine.connect() as conn:
                left = conn.execute(
                    sa.select(sa.func.count()).where(
                        _M.c.status.in_(
                            ("accepted", "pre-migrating", "migrating", "post-migrating")
                        )
                    )
                ).scalar()
            assert left == 0, "an abandoned move outlived a periodic pass"

    def _age_everything(self):
        """A threshold of one second, and a second gone: every abandoned move
        is past it (live operations have all returned)."""
        for manager in self.cloud.managers.values():
            manager.conf.set_override("recovery_timeout", 1, "migration")
        time.sleep(1.1)

    # -- what must hold after every step ------------------------------------------

    @invariant()
    def no_namespace_is_named_by_two_live_instances(self):
        owner = {}
        for row in self._live_blobs():
            old, new = _move_sides(row.migration_context)
            for key in set(_keys(row.resources)) | set(old) | set(new):
                assert key not in owner, (
                    f"{key} named by {owner.get(key)} and {row.uuid}"
                )
                owner[key] = row.uuid

    @invariant()
    def every_free_namespace_reads_zero(self):
        named = set()
        for row in self._live_blobs():
            old, new = _move_sides(row.migration_context)
            named.update(_keys(row.resources), old, new)
        for key, (path, state) in self._device_paths().items():
            if state == "available" and key not in named:
                with open(path, "rb") as f:
                    assert not f.read().strip(b"\0"), f"free {key} holds data"

    @invariant()
    def live_data_is_intact(self):
        paths = self._device_paths()
        for row in self._live_blobs():
            if row.uuid not in self.expected:
                continue
            old, _ = _move_sides(row.migration_context)
            if row.uuid in self.stuck:
                side, want = (old or _keys(row.resources)), self.expected[row.uuid]
            else:
                side, want = _keys(row.resources), self.expected[row.uuid]
            got = [_digest(paths[key][0]) for key in side]
            assert got == want, f"instance {row.uuid}: data changed"
            if row.uuid in self.before_move and old:
                got = [_digest(paths[key][0]) for key in old]
                assert got == self.before_move[row.uuid], "source side changed"


def _keys_of(resources):
    return [(r.provider_uuid, r.identifier) for r in resources or []]


def test_lifecycle_invariants_hold_under_random_operations_and_crashes(
    ctx, db_engine, tmp_path_factory, sshd_server
):
    Lifecycle.env = (
        ctx,
        db_engine,
        lambda: tmp_path_factory.mktemp("lifecycle"),
        sshd_server,
    )
    run_state_machine_as_test(
        Lifecycle,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
