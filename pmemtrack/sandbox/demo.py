"""``pmemtrack demo``: the operator's story on the embedded default.

A fresh state directory, two simulated compute hosts, the production code
paths. Every step checks what it shows; the demo fails (exit 1) if one does not
hold.
"""

import collections
import hashlib
import json
import multiprocessing
import shutil
import sys
import tempfile
import time
import uuid

import prettytable

from pmemtrack import context as pmt_context
from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.sandbox import embedded

MiB = 1024 * 1024
BURST_PROCESSES = 4


def _yes(flag):
    return "yes" if flag else "no"


def said(ok, lines, table=None, **figures):
    """A step's outcome: ``figures`` for ``-f json``, ``lines`` (and a
    table) for people."""
    return {"ok": bool(ok), "lines": lines, "table": table, **figures}


class Story:
    """Runs steps, records their figures, prints them as it goes: human text
    for ``table``, one line per step for ``value``, one JSON object at the
    end for ``json``."""

    def __init__(self, fmt, stream=sys.stdout):
        self.fmt = fmt
        self.stream = stream
        self.steps = []

    def step(self, name, fn):
        started = time.monotonic()
        try:
            record = dict(fn())
        except Exception as err:  # the demo reports every failure as a step
            record = said(False, [f"error: {type(err).__name__}: {err}"],
                          error=f"{type(err).__name__}: {err}")  # fmt: skip
        lines, table = record.pop("lines"), record.pop("table")
        seconds = round(time.monotonic() - started, 3)
        record = {"name": name, "ok": record.pop("ok"), **record, "seconds": seconds}
        if table is not None:
            columns, rows = table
            record["table"] = [dict(zip(columns, row, strict=True)) for row in rows]
        self.steps.append(record)
        if self.fmt == "table":
            self._print(record, lines, table)
        elif self.fmt == "value":
            mark = "ok" if record["ok"] else "FAILED"
            print(f"{mark} {seconds:.3f} {name}", file=self.stream)
        return record

    def _print(self, record, lines, table):
        mark = "ok" if record["ok"] else "FAILED"
        print(f"\n== {record['name']} [{mark}]", file=self.stream)
        for line in lines:
            print(f"   {line}", file=self.stream)
        if table is not None:
            columns, rows = table
            drawn = prettytable.PrettyTable(columns)
            drawn.align = "l"
            drawn.add_rows(rows)
            print(drawn, file=self.stream)

    @property
    def ok(self):
        return all(step["ok"] for step in self.steps)


def _per_numa_node(counter):
    return ", ".join(f"node{node}: {count}" for node, count in sorted(counter.items()))


def _inventory(cloud, ctx):
    rows = []
    for host, manager in sorted(cloud.managers.items()):
        free = collections.Counter(
            ns.label for ns in manager.tracker.free_namespaces(ctx, host)
        )
        for rc, inv in sorted(manager.driver.get_inventory(host).items()):
            label = rc.rsplit("_", 1)[-1]
            numa = collections.Counter(ns["numa_node"] for ns in inv["namespaces"])
            rows.append((host, label, inv["total"], free[label], _per_numa_node(numa)))
    return ("Host", "Label", "Total", "Free", "Per NUMA node"), rows


def _pattern(seed, size=4 * MiB):
    block = hashlib.sha256(seed.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def _devpath(instance):
    return instance.resources.objects[0].metadata.devpath


def _sha256(path, n=4 * MiB):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read(n)).hexdigest()


def _is_zero(path):
    with open(path, "rb") as f:
        return not f.read().strip(b"\x00")


def _match_line(source, destination):
    if source == destination:
        return f"match: sha256 {source[:16]}... at the source and the destination"
    return (
        f"MISMATCH: sha256 {source[:16]}... at the source, "
        f"{destination[:16]}... at the destination"
    )


def run(fmt="table", keep=False):
    """The story in a new state directory, removed at the end unless
    ``keep``. Returns the exit code: 0 when every check held."""
    state_dir = tempfile.mkdtemp(prefix="pmemtrack-demo-")
    story = Story(fmt)
    notes = sys.stdout if fmt == "table" else sys.stderr
    print(f"pmemtrack demo: two simulated compute hosts under {state_dir}", file=notes)
    try:
        cloud = embedded.embedded(state_dir, loopback_ssh=True)
        ctx = pmt_context.get_admin_context()
        try:
            _steps(story, cloud, ctx, state_dir)
        finally:
            cloud.close()
    finally:
        if not keep:
            shutil.rmtree(state_dir, ignore_errors=True)
    if fmt == "json":
        print(json.dumps({"ok": story.ok, "state_dir": state_dir, "kept": keep,
                          "steps": story.steps}))  # fmt: skip
    elif fmt == "table":
        print(f"\n{'All checks passed.' if story.ok else 'Some checks FAILED.'}")
    where = "kept" if keep else "removed (--keep keeps it)"
    print(f"State directory {state_dir} {where}.", file=notes)
    return 0 if story.ok else 1


def _steps(story, cloud, ctx, state_dir):
    api = cloud.api
    state = {}

    def flavor(name):
        return objects.Flavor.get_by_name(ctx, name)

    def discover():
        cloud.start(ctx)
        table = _inventory(cloud, ctx)
        totals = sum(row[2] for row in table[1])
        hosts = len(cloud.managers)
        return said(totals == 12, [f"{totals} namespaces on {hosts} hosts:"], table,
                    namespaces=totals)  # fmt: skip

    def exhaust():
        booted, refusal = [], None
        while refusal is None and len(booted) < 10:
            try:
                booted.append(api.create(ctx, flavor("pmem.large"), "compute1",
                                         "demo", name=f"big{len(booted)}"))  # fmt: skip
            except exception.ComputeResourcesUnavailable as err:
                refusal = str(err)
        ok = len(booted) == 2 and refusal and "LARGE" in refusal and "0 free" in refusal
        for instance in booted:
            api.delete(ctx, instance)
        lines = [
            f"booted {len(booted)} pmem.large instances on compute1; the next one "
            "was refused:",
            f"  {refusal}",
        ]
        return said(ok, lines, booted=len(booted), refused_with=refusal)

    def write_pattern():
        guest = api.create(ctx, flavor("pmem.medium"), "compute1", "demo",
                           name="guest-a")  # fmt: skip
        path = _devpath(guest)
        data = _pattern("guest-a")
        with open(path, "r+b") as f:
            f.write(data)
        sha = hashlib.sha256(data).hexdigest()
        state.update(guest=guest, source_path=path, sha=sha)
        [held] = guest.resources.objects
        lines = [
            f"guest-a on compute1 holds namespace {held.identifier} ({path})",
            f"wrote {len(data) // MiB} MiB into it: sha256 {sha[:16]}...",
        ]
        return said(True, lines, instance=guest.uuid, device=path, sha256=sha)

    def resize_with_copy():
        guest = state["guest"]
        api.resize(ctx, guest, flavor("pmem.large"), "compute2", True)
        dest = _devpath(guest)
        arrived = _sha256(dest)
        migration = objects.MigrationList.get_by_instance(ctx, guest.uuid)[-1]
        state["dest_path"] = dest
        lines = [
            f"guest-a resized to pmem.large on {guest.host} (migration "
            f"{migration.status}), data copied over SSH",
            _match_line(state["sha"], arrived),
        ]
        ok = guest.host == "compute2" and arrived == state["sha"]
        return said(ok, lines, host=guest.host, device=dest,
                    sha256_at_destination=arrived,
                    migration_status=migration.status)  # fmt: skip

    def revert():
        guest = state["guest"]
        api.revert(ctx, guest)
        intact = _sha256(state["source_path"]) == state["sha"]
        wiped = _is_zero(state["dest_path"])
        lines = [
            f"guest-a back on {guest.host}; its data intact: {_yes(intact)}; "
            f"the destination namespace wiped: {_yes(wiped)}"
        ]
        ok = guest.host == "compute1" and intact and wiped
        return said(ok, lines, host=guest.host, destination_wiped=wiped,
                    source_data_intact=intact)  # fmt: skip

    def confirm():
        guest = state["guest"]
        api.resize(ctx, guest, flavor("pmem.large"), "compute2", True)
        api.confirm(ctx, guest)
        arrived = _sha256(_devpath(guest)) == state["sha"]
        wiped = _is_zero(state["source_path"])
        lines = [
            f"guest-a confirmed on {guest.host}; its data there: {_yes(arrived)}; "
            f"the source namespace wiped: {_yes(wiped)}"
        ]
        return said(arrived and wiped, lines, host=guest.host,
                    data_at_destination=arrived, source_wiped=wiped)  # fmt: skip

    def quota():
        objects.QuotaLimit.set(ctx, "project-q", "CUSTOM_PMEM_NAMESPACE_MEDIUM", 1)
        first = api.create(ctx, flavor("pmem.medium"), "compute1", "project-q",
                           name="q1")  # fmt: skip
        try:
            api.create(ctx, flavor("pmem.medium"), "compute1", "project-q", name="q2")
            refusal = None
        except exception.QuotaExceeded as err:
            refusal = str(err)
        api.delete(ctx, first)
        lines = [
            "project-q may hold 1 MEDIUM namespace; its second boot was refused:",
            f"  {refusal}",
        ]
        return said(refusal is not None, lines, refused_with=refusal)

    def burst():
        return _burst(cloud, ctx, state_dir)

    for name, fn in (
        ("Discover namespaces and report inventory", discover),
        ("Boot until a label is exhausted", exhaust),
        ("Write a known pattern into a guest's namespace", write_pattern),
        ("Resize to the other host with copy_pmem_devices", resize_with_copy),
        ("Revert: source data intact, destination wiped", revert),
        ("Resize again and confirm: source wiped", confirm),
        ("A project refused by quota", quota),
        ("A burst of concurrent claims from several processes", burst),
    ):
        story.step(name, fn)


def _burst(cloud, ctx, state_dir):
    """Processes claim MEDIUM namespaces on compute2 at once."""
    manager = cloud.managers["compute2"]
    free = [ns for ns in manager.tracker.free_namespaces(ctx, "compute2")
            if ns.label == "MEDIUM"]  # fmt: skip
    medium = objects.Flavor.get_by_name(ctx, "pmem.medium")
    uuids = []
    for i in range(len(free) + 4):
        instance = objects.Instance(
            ctx, uuid=str(uuid.uuid4()), display_name=f"burst{i}",
            project_id="burst", user_id="demo", vm_state="building",
            flavor=medium, resources=None, migration_context=None,
        )  # fmt: skip
        instance.create()
        uuids.append(instance.uuid)
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    jobs = [uuids[i::BURST_PROCESSES] for i in range(BURST_PROCESSES)]
    processes = [
        spawn.Process(target=_claimer, args=(state_dir, job, results)) for job in jobs
    ]
    for process in processes:
        process.start()
    outcome = collections.Counter()
    errors = []
    for _ in processes:
        reported = results.get(timeout=300)
        if "error" in reported:
            errors.append(reported.pop("error"))
        outcome.update(reported)
    for process in processes:
        process.join(timeout=60)
    held = [
        r.identifier
        for i in objects.InstanceList.get_by_project(ctx, "burst", ["resources"])
        for r in (i.resources.objects if i.resources else [])
    ]
    doubles = len(held) - len(set(held))
    ok = doubles == 0 and outcome["claimed"] == len(free) and outcome["errors"] == 0
    lines = [
        f"{BURST_PROCESSES} processes made {len(uuids)} claims for the "
        f"{len(free)} free MEDIUM namespaces of compute2: {outcome['claimed']} "
        f"claimed, {outcome['refused']} refused, {doubles} namespaces assigned "
        "twice",
        *(f"error: {error}" for error in errors),
    ]
    return said(ok, lines, processes=BURST_PROCESSES, claims=len(uuids),
                claimed=outcome["claimed"], refused=outcome["refused"],
                double_assignments=doubles,
                **({"errors": errors} if errors else {}))  # fmt: skip


def _claimer(state_dir, instance_uuids, results):
    outcome = collections.Counter(claimed=0, refused=0, errors=0)
    try:
        _claim_all(state_dir, instance_uuids, outcome)
    except Exception as err:  # reported: the parent must never wait forever
        outcome["errors"] += 1
        outcome["error"] = f"{type(err).__name__}: {err}"
    results.put(dict(outcome))


def _claim_all(state_dir, instance_uuids, outcome):
    objects.register_all()
    cloud = embedded.embedded(state_dir)
    ctx = pmt_context.get_admin_context()
    tracker = cloud.managers["compute2"].tracker
    for instance_uuid in instance_uuids:
        instance = objects.Instance.get_by_uuid(ctx, instance_uuid, ["flavor"])
        try:
            tracker.instance_claim(ctx, instance, "compute2")
            outcome["claimed"] += 1
        except exception.ComputeResourcesUnavailable:
            outcome["refused"] += 1
        except Exception:  # counted; the demo fails on any
            outcome["errors"] += 1
