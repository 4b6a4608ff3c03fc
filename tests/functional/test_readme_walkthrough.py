"""The README's operator walk-through, run as it is written: each ``$``
line of the block, in order, against a two-host file on simulated hosts (a
real sshd on 127.0.0.1 for the copies) in place of
/etc/pmemtrack/pmemtrack.conf. Each command must exit 0 with no traceback."""

import json
import os
import re
import shlex
import subprocess

from tests.fixtures import hosts
from tests.fixtures.sshd import sshd_server  # noqa: F401 (fixture)
from tests.functional.cmd import cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README_CONF = "/etc/pmemtrack/pmemtrack.conf"
BLOCK_START = "A first day with a two-host file"


def walkthrough_commands():
    with open(os.path.join(ROOT, "README.rst")) as f:
        text = f.read()
    block = text[text.index(BLOCK_START) :]
    block = block[: block.index("\n\n", block.index("   $ ")) + 1]
    return [
        line.strip()[2:] for line in block.splitlines() if line.strip().startswith("$ ")
    ]


def _two_host_file(tmp_path, server):
    compute1 = hosts.make_host(tmp_path, "compute1", {"128G": 2})
    compute2 = hosts.make_host(tmp_path, "compute2", {"128G": 2})
    sections = cli.host_sections(compute1, f"sqlite:///{tmp_path}/pmemtrack.sqlite")
    sections["DEFAULT"].update(compute_hosts="compute2", migration_address="127.0.0.1")
    sections["migration"] = hosts.ssh_options(server)
    sections["host:compute2"] = {
        "connection_uri": compute2.conf.libvirt.connection_uri,
        "migration_address": "127.0.0.1",
        "backend": "simulated",
        "simulated_path": compute2.conf.pmem.simulated_path,
        "namespaces": compute2.conf.pmem.namespaces,
    }
    return cli.write_conf(tmp_path / "pmemtrack.conf", sections)


def test_the_walkthrough_has_every_command_family():
    families = {tuple(shlex.split(c)[0:1] + shlex.split(c)[3:5])[:2]
                for c in walkthrough_commands()}  # fmt: skip
    assert len(walkthrough_commands()) >= 20
    for expected in (("pmemtrack-manage", "db"), ("pmemtrack-status", "upgrade"),
                     ("pmemtrack-manage", "flavor"), ("pmemtrack", "server")):  # fmt: skip
        assert expected in families


def test_the_readme_walkthrough_runs_as_written(tmp_path, sshd_server):  # noqa: F811
    conf = _two_host_file(tmp_path, sshd_server)
    outputs = {}
    for command in walkthrough_commands():
        argv = shlex.split(command.replace(README_CONF, str(conf)))
        argv[0] = os.path.join(cli.BINDIR, argv[0])
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if "upgrade check" in command:
            # 1: warnings only (the simulated backend is one), never a failure.
            assert done.returncode in (0, 1), (command, done.stdout)
            assert "Result: Failure" not in done.stdout, done.stdout
        else:
            assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, command
        outputs[command] = done.stdout

    shown = json.loads(next(out for cmd, out in outputs.items() if "show vm1" in cmd))
    assert (shown["host"], shown["vm_state"]) == ("compute2", "active")
    assert re.search(r"128G:compute2-ns\d", shown["pmem"])
