"""pmemtrack loaded next to a program that owns oslo.config's global CONF (as
nova-compute does) registers nothing there, so nothing clashes: Nova registers
[DEFAULT] host and state_path and [libvirt] connection_uri, which pmemtrack's
own service also has."""

import subprocess
import sys

# Run in a fresh interpreter: the global CONF of this test process must not
# keep what the check registers.
_CHECK = """
import importlib, pkgutil, sys
from oslo_config import cfg

def nova_options():
    cfg.CONF.register_opts([cfg.StrOpt("host", default="nova-host", help="nova"),
                            cfg.StrOpt("state_path", default="/var/lib/nova")])
    cfg.CONF.register_opts([cfg.StrOpt("connection_uri", default="",
                                       help="nova's")], group="libvirt")

def import_pmemtrack():
    import pmemtrack
    for module in pkgutil.walk_packages(pmemtrack.__path__, "pmemtrack."):
        # The Nova adapter imports nova and registers [pmemtrack] on Nova's
        # CONF on purpose; tests/nova checks it inside real Nova.
        if not module.name.startswith("pmemtrack.nova."):
            importlib.import_module(module.name)

steps = [nova_options, import_pmemtrack]
for step in (steps if sys.argv[1] == "nova-first" else reversed(steps)):
    step()
cfg.CONF([], default_config_files=[])
ours = {"pmem", "migration", "quota", "resource_tracker"} & set(cfg.CONF)
print(sorted(ours), cfg.CONF.host, sorted(cfg.CONF.libvirt))
"""


def _run(order):
    return subprocess.run(
        [sys.executable, "-c", _CHECK, order], capture_output=True, text=True
    )


def test_pmemtrack_imports_next_to_novas_options_in_either_order():
    for order in ("nova-first", "pmemtrack-first"):
        result = _run(order)
        assert result.returncode == 0, result.stderr
        # None of pmemtrack's groups on the global CONF; Nova's options intact.
        assert result.stdout.strip() == "[] nova-host ['connection_uri']", (
            order,
            result.stdout,
        )
