"""The operator's side of the functional CLI tests: config files, the console
scripts run as processes, and the hypervisor state those processes can see."""

import json
import os
import shutil
import subprocess
import sys
import urllib.parse
import uuid

BINDIR = os.path.dirname(sys.executable)
MANAGE = shutil.which("pmemtrack-manage", path=BINDIR)
STATUS = shutil.which("pmemtrack-status", path=BINDIR)
PMEMTRACK = shutil.which("pmemtrack", path=BINDIR)
# What the embedded default logs when it cannot run its loopback sshd.
NO_SSHD = "No loopback sshd"
_TEST_URI = "test://"


def db_url(engine):
    return engine.url.render_as_string(hide_password=False)


def write_conf(path, sections):
    """``sections``: {group: {option: value}}; a list value is comma-joined."""
    lines = []
    for group, options in sections.items():
        lines.append(f"[{group}]")
        for name, value in options.items():
            text = ",".join(value) if isinstance(value, list) else value
            lines.append(f"{name} = {text}")
    path.write_text("\n".join(lines) + "\n")
    return path


def host_sections(manager, url, namespaces=None):
    """A config for the CLI on ``manager``'s host: its DB, devices, hypervisor."""
    conf = manager.conf
    return {
        "DEFAULT": {"host": manager.host, "state_path": conf.state_path},
        "database": {"connection": url, "max_retries": 0},
        "pmem": {
            "backend": "simulated",
            "simulated_path": conf.pmem.simulated_path,
            "namespaces": conf.pmem.namespaces if namespaces is None else namespaces,
        },
        "libvirt": {"connection_uri": conf.libvirt.connection_uri},
    }


def embedded_env(home):
    """The environment of an operator whose home is ``home``: no
    ~/pmemtrack.conf or PMEMTRACK_STATE_DIR of the machine's user is read."""
    env = dict(os.environ)
    env.pop("PMEMTRACK_STATE_DIR", None)
    env["HOME"] = env["TMPDIR"] = str(home)
    return env


def under_umask(argv, umask):
    """``argv`` run by a shell that first sets ``umask``, as an operator's
    shell may, whatever this test process's umask is."""
    return ["sh", "-c", f'umask {umask:04o} && exec "$@"', "sh", *map(str, argv)]


def embedded(state, *args, home, umask=0o022):
    """``pmemtrack --state-dir STATE ARGS...`` as a process under ``umask``,
    for an operator whose home is ``home``."""
    return subprocess.run(
        under_umask([PMEMTRACK, "--state-dir", state, *args], umask),
        capture_output=True,
        text=True,
        timeout=120,
        env=embedded_env(home),
    )


def run(script, conf, *args):
    return subprocess.run(
        [script, "--config-file", str(conf), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def manage(conf, *args):
    return run(MANAGE, conf, *args)


def manage_json(conf, *args, expect=0):
    result = manage(conf, *args, "-f", "json")
    # Findings and errors may share an exit code; only errors write stderr.
    assert (result.returncode, result.stderr) == (expect, ""), result.stderr
    return json.loads(result.stdout)


def assert_one_error_line(result, fragment, code=1):
    assert result.returncode == code, (result.stdout, result.stderr)
    assert result.stderr.startswith("ERROR: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def domain_xml(manager, instance):
    return manager.driver.host.lookup("instance-%08x" % instance.id).XMLDesc(0)


def show_guest_to_other_processes(manager, xml):
    """libvirt's test driver builds a private hypervisor from its node file on
    every connection, <domain> children included: a guest written there is
    one the CLI's own connection sees."""
    # The URI percent-encodes the path (pmemtrack.sandbox.embedded.libvirt_test_uri).
    path = urllib.parse.unquote(manager.conf.libvirt.connection_uri[len(_TEST_URI) :])
    with open(path) as f:
        text = f.read()
    # The last </node> closes the file; guests have <node> elements too.
    head, _, tail = text.rpartition("</node>")
    with open(path, "w") as f:
        f.write(head + xml + "</node>" + tail)


def renamed_guest(xml, name):
    """The same guest XML as another domain: new name and uuid."""
    start, end = xml.index("<uuid>") + len("<uuid>"), xml.index("</uuid>")
    xml = xml[:start] + str(uuid.uuid4()) + xml[end:]
    start, end = xml.index("<name>") + len("<name>"), xml.index("</name>")
    return xml[:start] + name + xml[end:]


def break_device(devpath):
    """daxio cannot open the device any more: a wipe of it fails."""
    os.rename(devpath, devpath + ".away")
    os.mkdir(devpath)


def repair_device(devpath):
    os.rmdir(devpath)
    os.rename(devpath + ".away", devpath)
