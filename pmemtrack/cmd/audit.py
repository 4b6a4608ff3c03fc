"""pmemtrack-manage pmem audit: where the database, the hypervisor and the
devices disagree on the hosts this process can reach.

It only reads. Every finding says what is wrong and what pmemtrack does about
it meanwhile, so the operator can decide; nothing is repaired behind their back.
"""

import dataclasses

from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.cmd import listing
from pmemtrack.objects import fields
from pmemtrack.resource_tracker import node_view
from pmemtrack.resource_tracker import selection
from pmemtrack.virt.libvirt import namespaces

COLUMNS = ("Kind", "Host", "Namespace", "Detail")
ORPHAN = "orphan"
WRONG_GUEST = "wrong-guest"
MISSING_DEVICE = "missing-device"
NOT_CONFIGURED = "not-configured"
DIRTY = "dirty"


@dataclasses.dataclass(frozen=True)
class Finding:
    kind: str
    host: str
    namespace: str
    detail: str

    def row(self):
        return (self.kind, self.host, self.namespace, self.detail)

    @property
    def sort_key(self):
        return (self.host, selection.natural_key(self.namespace), self.kind)


@dataclasses.dataclass
class _HostView:
    """Everything one host's audit compares, read once."""

    host: str
    configured: dict  # name -> label, from [pmem] namespaces
    rows: dict  # name -> HostNamespace, from the resources table
    held: dict  # name -> (instance uuid, role)
    found: dict  # name -> DiscoveredNamespace, discovered devdax devices
    guests: dict  # device path -> [(domain name, domain uuid)]


def audit(context, deployment):
    findings = []
    for host in sorted(deployment.managers):
        findings.extend(audit_host(context, deployment.managers[host]))
    return findings


def audit_host(context, manager):
    view = _read(context, manager)
    findings = (
        _guest_findings(view)
        + _missing_devices(view)
        + _not_configured(view)
        + _dirty(view)
    )
    return sorted(findings, key=lambda finding: finding.sort_key)


def _compute_node(context, manager):
    try:
        return objects.ComputeNode.get_by_host_and_nodename(
            context, manager.host, manager.nodename
        )
    except exception.ComputeNodeNotFound:
        known = sorted({n.host for n in objects.ComputeNodeList.get_all(context)})
        raise exception.ComputeHostNotFound(
            host=manager.host, known=", ".join(known) or "none"
        )


def _configured(conf):
    try:
        entries = conf.pmem.namespaces
    except ValueError as err:
        raise exception.InvalidNamespaceConfig(entry="", reason=err)
    return {name: label for label, name in namespaces.parse_config(entries)}


def _discovered(manager):
    found = namespaces.discover(manager.driver.tools, manager.conf.pmem)
    return {f.name: f for f in found if f.mode == namespaces.DEVDAX and f.devpath}


def _read(context, manager):
    node = _compute_node(context, manager)
    configured = _configured(manager.conf)
    view = node_view.read(context, node)
    rows = {ns.name: ns for ns in view.namespaces}
    held = view.held
    # A host that offers nothing and holds nothing need not have the tools.
    found = _discovered(manager) if configured or rows else {}
    return _HostView(
        manager.host, configured, rows, held, found, listing.guests_on(manager)
    )


def _holder(view, name):
    instance, role = view.held[name]
    return f"instance {instance} ({role})"


def _guest_findings(view):
    """Guests using a tracked namespace that no live instance, or another
    instance, holds."""
    by_path = {ns.devpath: name for name, ns in view.rows.items() if ns.devpath}
    by_path.update(
        {view.found[n].devpath: n for n in view.configured if n in view.found}
    )
    findings = []
    for path, users in sorted(view.guests.items()):
        name = by_path.get(path)
        if name is None:
            continue
        for domain, domain_uuid in users:
            guest = f"used by domain {domain} ({domain_uuid})"
            if name not in view.held:
                detail = (
                    f"{guest} but no live instance holds it; it is not handed "
                    "out until that guest is gone"
                )
                findings.append(Finding(ORPHAN, view.host, name, detail))
            elif view.held[name][0] != domain_uuid:
                detail = f"{guest} but held by {_holder(view, name)}"
                findings.append(Finding(WRONG_GUEST, view.host, name, detail))
    return findings


def _missing_devices(view):
    findings = []
    for name in sorted(set(view.rows) | set(view.configured)):
        if name in view.found:
            continue
        if name in view.held:
            detail = f"held by {_holder(view, name)} but its device is not discovered"
        elif name in view.configured:
            detail = (
                f"listed in [pmem] namespaces as {view.configured[name]} but no "
                "devdax namespace or dax device of that name is discovered"
            )
        else:
            detail = (
                "in the database but neither discovered nor held; the next "
                "periodic pass of its compute service removes it"
            )
        findings.append(Finding(MISSING_DEVICE, view.host, name, detail))
    return findings


def _not_configured(view):
    return [
        Finding(
            NOT_CONFIGURED,
            view.host,
            name,
            f"held by {_holder(view, name)} but not listed in [pmem] namespaces; "
            "it stays assigned, and is not offered again once released",
        )
        for name in view.held
        if name not in view.configured
    ]


def _dirty(view):
    return [
        Finding(
            DIRTY,
            view.host,
            name,
            "its wipe failed: it stays out of the free pool until a wipe "
            "succeeds (the periodic pass retries)",
        )
        for name, ns in view.rows.items()
        if ns.state == fields.HostResourceState.DIRTY
    ]
