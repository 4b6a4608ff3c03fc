"""``pmemtrack demo``: the operator's story on the embedded default.

A fresh state directory, two simulated compute hosts, the production code
paths. Every step checks what it shows; the demo fails (exit 1) if one does not
hold.
"""

import collections
import hashlib
import json
import multiprocessing
import sys
import tempfile
import time
import uuid

from pmemtrack import context as pmt_context
from pmemtrack import deployment
from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.cmd import output

MiB = 1024 * 1024
BURST_PROCESSES = 4


class Story:
    """Runs steps, records their figures, prints them as it goes."""

    def __init__(self, fmt, stream=sys.stdout):
        self.fmt = fmt
        self.stream = stream
        self.steps = []

    def step(self, name, fn):
        started = time.monotonic()
        try:
            record = dict(fn())
        except Exception as err:  # the demo reports every failure as a step
            record = {"ok": False, "error": f"{type(err).__name__}: {err}"}
        record = {"name": name, "ok": record.pop("ok"), **record}
        record["seconds"] = round(time.monotonic() - started, 3)
        self.steps.append(record)
        if self.fmt != "json":
            self._print(record)
        return record

    def _print(self, record):
        mark = "ok" if record["ok"] else "FAILED"
        print(f"\n== {record['name']} [{mark}]", file=self.stream)
        for key, value in record.items():
            if key in ("name", "ok", "table"):
                continue
            print(f"   {key}: {value}", file=self.stream)
        if "table" in record:
            columns, rows = record["table"]
            output.emit(columns, rows, "table", stream=self.stream)

    @property
    def ok(self):
        return all(step["ok"] for step in self.steps)


def _inventory(cloud, ctx):
    rows = []
    for host, manager in sorted(cloud.managers.items()):
        free = collections.Counter(
            ns.label for ns in manager.tracker.free_namespaces(ctx, host)
        )
        for rc, inv in sorted(manager.driver.get_inventory(host).items()):
            label = rc.rsplit("_", 1)[-1]
            numa = collections.Counter(ns["numa_node"] for ns in inv["namespaces"])
            rows.append(
                (host, label, inv["total"], free[label], dict(sorted(numa.items())))
            )
    return ("host", "label", "total", "free", "per NUMA node"), rows


def _pattern(seed, size=4 * MiB):
    block = hashlib.sha256(seed.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def _devpath(instance):
    return instance.resources.objects[0].metadata.devpath


def _read(path, n):
    with open(path, "rb") as f:
        return f.read(n)


def _is_zero(path):
    with open(path, "rb") as f:
        return not f.read().strip(b"\x00")


def run(fmt="table", state_dir=None):
    state_dir = state_dir or tempfile.mkdtemp(prefix="pmemtrack-demo-")
    story = Story(fmt)
    if fmt != "json":
        print(f"pmemtrack demo: embedded default under {state_dir}")
    cloud = deployment.embedded(state_dir, loopback_ssh=True)
    ctx = pmt_context.get_admin_context()
    try:
        _steps(story, cloud, ctx, state_dir)
    finally:
        cloud.close()
    if fmt == "json":
        print(json.dumps({"ok": story.ok, "steps": story.steps}, default=str))
    else:
        print(f"\n{'All checks passed.' if story.ok else 'Some checks FAILED.'}")
    return 0 if story.ok else 1


def _steps(story, cloud, ctx, state_dir):
    api = cloud.api
    state = {}

    def discover():
        cloud.start(ctx)
        table = _inventory(cloud, ctx)
        totals = sum(row[2] for row in table[1])
        return {"ok": totals == 12, "namespaces": totals, "table": table}

    def exhaust():
        booted, refusal = [], None
        large = objects.Flavor.get_by_name(ctx, "pmem.large")
        while refusal is None and len(booted) < 10:
            try:
                booted.append(
                    api.create(ctx, large, "compute1", "demo", name=f"big{len(booted)}")
                )
            except exception.ComputeResourcesUnavailable as err:
                refusal = str(err)
        ok = len(booted) == 2 and refusal and "LARGE" in refusal and "0 free" in refusal
        for instance in booted:
            api.delete(ctx, instance)
        return {"ok": bool(ok), "booted": len(booted), "refused_with": refusal}

    def write_pattern():
        guest = api.create(
            ctx,
            objects.Flavor.get_by_name(ctx, "pmem.medium"),
            "compute1",
            "demo",
            name="guest-a",
        )
        path = _devpath(guest)
        data = _pattern("guest-a")
        with open(path, "r+b") as f:
            f.write(data)
        state.update(
            guest=guest, source_path=path, sha=hashlib.sha256(data).hexdigest()
        )
        return {
            "ok": True,
            "instance": guest.uuid,
            "device": path,
            "sha256": state["sha"],
        }

    def resize_with_copy():
        guest = state["guest"]
        api.resize(ctx, guest, objects.Flavor.get_by_name(ctx, "pmem.large"), "compute2", True,
                   progress=None)  # fmt: skip
        dest = _devpath(guest)
        arrived = hashlib.sha256(_read(dest, 4 * MiB)).hexdigest()
        migration = objects.MigrationList.get_by_instance(ctx, guest.uuid)[-1]
        state["dest_path"] = dest
        return {
            "ok": guest.host == "compute2" and arrived == state["sha"],
            "host": guest.host,
            "device": dest,
            "sha256_at_destination": arrived,
            "migration_status": migration.status,
        }

    def revert():
        guest = state["guest"]
        api.revert(ctx, guest)
        source_intact = hashlib.sha256(_read(state["source_path"], 4 * MiB)).hexdigest()
        return {
            "ok": guest.host == "compute1"
            and source_intact == state["sha"]
            and _is_zero(state["dest_path"]),
            "host": guest.host,
            "destination_wiped": _is_zero(state["dest_path"]),
            "source_data_intact": source_intact == state["sha"],
        }

    def confirm():
        guest = state["guest"]
        api.resize(
            ctx, guest, objects.Flavor.get_by_name(ctx, "pmem.large"), "compute2", True
        )
        api.confirm(ctx, guest)
        dest = _devpath(guest)
        arrived = hashlib.sha256(_read(dest, 4 * MiB)).hexdigest()
        return {
            "ok": arrived == state["sha"] and _is_zero(state["source_path"]),
            "host": guest.host,
            "data_at_destination": arrived == state["sha"],
            "source_wiped": _is_zero(state["source_path"]),
        }

    def quota():
        objects.QuotaLimit.set(ctx, "project-q", "CUSTOM_PMEM_NAMESPACE_MEDIUM", 1)
        medium = objects.Flavor.get_by_name(ctx, "pmem.medium")
        first = api.create(ctx, medium, "compute1", "project-q", name="q1")
        try:
            api.create(ctx, medium, "compute1", "project-q", name="q2")
            refusal = None
        except exception.QuotaExceeded as err:
            refusal = str(err)
        api.delete(ctx, first)
        return {"ok": refusal is not None, "refused_with": refusal}

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
    return {
        "ok": doubles == 0
        and outcome["claimed"] == len(free)
        and outcome["errors"] == 0,
        "processes": BURST_PROCESSES,
        "claims": len(uuids),
        "claimed": outcome["claimed"],
        "refused": outcome["refused"],
        "double_assignments": doubles,
        **({"errors": errors} if errors else {}),
    }


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
    cloud = deployment.embedded(state_dir)
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
