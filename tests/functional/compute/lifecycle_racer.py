"""Operators acting on one instance from separate processes at once.

Each process opens the database and the two simulated hosts itself, waits at
a barrier so all act together, runs one operation and reports its outcome.
"""

import traceback

from pmemtrack import context as pmt_context
from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.compute import api as compute_api
from pmemtrack.db import api as db_api
from tests.fixtures import hosts

MiB = 1024 * 1024
LAYOUT = {"SMALL": 2, "BIG": 2}


def act(url, engine_options, state_dir, ssh_options, action, instance_uuid,
        barrier, results):  # fmt: skip
    """Put (action, "won" | "refused", detail) on ``results``."""
    db_api.configure_url(url, max_retries=0, **engine_options)
    objects.register_all()
    ctx = pmt_context.get_admin_context()
    managers = {
        name: hosts.make_host(state_dir, name, LAYOUT, size=8 * MiB, **ssh_options)
        for name in ("compute1", "compute2")
    }
    for manager in managers.values():
        manager.driver.init_host(manager.host)
    api = compute_api.ComputeAPI(managers, allow_resize_to_same_host=True)
    instance = objects.Instance.get_by_uuid(
        ctx, instance_uuid, ["flavor", "resources", "migration_context"]
    )
    barrier.wait()
    try:
        getattr(api, action)(ctx, instance)
        results.put((action, "won", ""))
    except exception.PmemtrackException as err:
        results.put((action, "refused", f"{type(err).__name__}: {err}"))
    except Exception:  # reported to the test, which fails on it
        results.put((action, "error", traceback.format_exc()))
