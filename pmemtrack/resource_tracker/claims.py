"""The claim transaction, and the claim objects that undo it.

One claim, inside one transaction (``tracker`` retries it in a fresh one when
it loses a race)::

    SELECT cn.generation, a.generation, l.resource_class, l.hard_limit
      FROM compute_nodes cn JOIN project_quota_anchors a ON a.project_id = :p
      LEFT JOIN quota_limits l ON l.project_id = :p
     WHERE cn.id = :node FOR UPDATE                  -- generation.lock_for_claim
    SELECT 'n', <namespace row> ... UNION ALL SELECT 'h', <holder blobs> ...
      [UNION ALL SELECT 'p', <the project's holder blobs>]      -- node_view.read
    -- quota from the blobs; free = available - held - used by guests; choose
    UPDATE instances ...; UPDATE instance_extra ...   -- Instance.place etc.
    UPDATE compute_nodes SET generation = g + 1
     WHERE id = :node AND generation = g                        -- generation.bump
    [UPDATE project_quota_anchors SET generation = pg + 1
      WHERE project_id = :p AND generation = pg]           -- only when limited

The row locks keep claims on one database server from retrying each other
in storms; the generation compare-and-update is what keeps every claim right
on any isolation level and on a multi-writer Galera cluster, where a lock
holds on its own node only.

A claim object exists once its claim committed; leaving its ``with`` block
through an exception releases (and wipes) what it took.
"""

import collections
import typing

from pmemtrack import exception
from pmemtrack import resource_class
from pmemtrack.objects import fields
from pmemtrack.objects import request_spec as request_spec_obj
from pmemtrack.objects import resource as resource_obj
from pmemtrack.resource_tracker import generation
from pmemtrack.resource_tracker import node_view
from pmemtrack.resource_tracker import quota
from pmemtrack.resource_tracker import selection

_AVAILABLE = fields.HostResourceState.AVAILABLE


def wanted_from_labels(labels):
    """Resource class -> (count, label as asked), in the order first asked.

    ``medium`` and ``MEDIUM`` are one class; every label counts, none is dropped.
    """
    wanted = collections.OrderedDict()
    for label in labels:
        rc = resource_class.for_label(label)
        count, first_label = wanted.get(rc, (0, label))
        wanted[rc] = (count + 1, first_label)
    return wanted


class Request(typing.NamedTuple):
    """What one claim asks for, decided before its transaction starts."""

    instance_uuid: str
    project_id: str
    flavor_name: str
    classes: list  # the resource class of each label, in the order asked
    wanted: dict  # see wanted_from_labels
    policy: str  # request_spec_obj.PmemNumaPolicy
    keeps_current: bool  # a move: the instance keeps what it holds until confirmed

    @classmethod
    def of(cls, instance, flavor, spec, keeps_current):
        labels = spec.pmem_labels if spec is not None else flavor.pmem_labels()
        policy = (
            spec.pmem_numa_policy
            if spec is not None
            else request_spec_obj.PmemNumaPolicy.PREFER_SINGLE_NODE
        )
        classes = [resource_class.for_label(label) for label in labels]
        return cls(instance.uuid, instance.project_id, flavor.name, classes,
                   wanted_from_labels(labels), policy, keeps_current)  # fmt: skip

    @property
    def counts(self):
        return collections.Counter({rc: n for rc, (n, _) in self.wanted.items()})


def lock_for_claim(context, node_id, project_id):
    locks = generation.lock_for_claim(context, node_id, project_id)
    if locks is not None:
        return locks
    generation.lock_node(context, node_id)  # ComputeNodeNotFound if it is gone
    quota.forget_anchor(project_id)
    raise exception.ClaimConflict(what=f"project {project_id}", expected=-1)


def free(view, in_use):
    """The namespaces of a NodeView a claim could take now: available, held
    by no live instance, used by no guest on the hypervisor."""
    return [
        ns
        for ns in view.namespaces
        if ns.state == _AVAILABLE and ns.name not in view.held and ns.name not in in_use
    ]


def _choose(view, node, request, in_use):
    free_now = free(view, in_use)
    offered = {ns.resource_class: ns.label for ns in view.namespaces}
    where = {"host": node.host, "node": node.hypervisor_hostname}
    for rc, (count, label) in request.wanted.items():
        if rc not in offered:
            raise exception.PmemLabelUnknown(
                flavor=request.flavor_name, label=label, resource_class=rc,
                offered=", ".join(sorted(set(offered.values()))) or "none",
                **where,
            )  # fmt: skip
        free_count = sum(1 for ns in free_now if ns.resource_class == rc)
        if free_count < count:
            raise exception.ComputeResourcesUnavailable(
                label=label, resource_class=rc, wanted=count, free=free_count,
                **where,
            )  # fmt: skip
    chosen = selection.choose(free_now, request.counts, request.policy,
                              node.host, node.hypervisor_hostname)  # fmt: skip
    return selection.in_request_order(chosen, request.classes)


def _resource_list(provider_uuid, chosen):
    return resource_obj.ResourceList(
        objects=[
            resource_obj.Resource(
                provider_uuid=provider_uuid,
                resource_class=ns.resource_class,
                identifier=ns.name,
                metadata=resource_obj.LibvirtVPMEMDevice(
                    label=ns.label,
                    name=ns.name,
                    size=ns.size,
                    devpath=ns.devpath,
                    align=ns.align,
                ),
            )
            for ns in chosen
        ]
    )


def claim(context, conf, node, request, in_use, write):
    """The claim transaction's work (see the module docstring): the
    ResourceList taken (None when nothing is asked for), written by
    ``write(context, node, resources)``."""
    project_id = request.project_id
    locks = lock_for_claim(context, node.id, project_id)
    limits = quota.limits_in_force(conf, request.counts, locks.overrides)
    resources = None
    if request.wanted:
        project = (project_id, request.instance_uuid) if limits else None
        view = node_view.read(context, node, project, verify_devpaths=True)
        if limits:
            quota.check(project_id, request.counts, request.keeps_current, limits,
                        view.project_use)  # fmt: skip
        resources = _resource_list(node.uuid, _choose(view, node, request, in_use))
    write(context, node, resources)
    generation.bump_node(context, node.id, locks.node_generation)
    if limits:
        quota.bump_anchor(context, project_id, locks.anchor_generation)
    return resources


class Claim:
    def __init__(self, tracker, context, instance, nodename, resources):
        self.tracker = tracker
        self.context = context
        self.instance = instance
        self.nodename = nodename
        # The ResourceList taken, or None when the flavor asks for no PMEM.
        self.resources = resources

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()
        return False

    def abort(self):
        self.tracker.abort_instance_claim(self.context, self.instance, self.nodename)


class MoveClaim(Claim):
    def __init__(self, tracker, context, instance, nodename, resources, migration):
        super().__init__(tracker, context, instance, nodename, resources)
        self.migration = migration

    def abort(self):
        self.tracker.drop_move_claim_at_dest(
            self.context, self.instance, self.migration
        )
