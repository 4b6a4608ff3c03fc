"""A state directory is a path like any other: a space, a '$' (which
oslo.config would expand), or characters URLs and sshd_config give a meaning
to do not break the CLI or send its files elsewhere."""

import json
import os

from oslo_config import cfg
import pytest

from pmemtrack import conf as pmt_conf
from tests.fixtures import sshd
from tests.functional.cmd import cli

DB = "pmemtrack.sqlite"
GUEST_DATA = os.urandom(4096)


def server_json(state, home, *args):
    result = cli.embedded(state, "server", *args, "-f", "json", home=home)
    assert (result.returncode, result.stderr) == (0, ""), (args, result.stderr)
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    "name",
    # "$state_path" is an option: expanded, it would be /var/lib/pmemtrack.
    ["state dir", "$state_path", "my $x dir"],
    ids=["space", "dollar", "both"],
)
def test_the_lifecycle_works_in_a_state_dir_named(tmp_path, name):
    state = tmp_path / name

    created = server_json(state, tmp_path, "create", "vm1", "--flavor", "pmem.medium")
    device = created["pmem"].split("@", 1)[1]
    assert device.startswith(f"{state}/compute1/")
    assert os.path.isfile(device)
    assert server_json(state, tmp_path, "list") == [created]
    assert server_json(state, tmp_path, "show", "vm1") == created
    stopped = server_json(state, tmp_path, "stop", "vm1")
    assert (stopped["vm_state"], stopped["power_state"]) == ("stopped", "shutdown")
    started = server_json(state, tmp_path, "start", "vm1")
    assert started == created
    deleted = server_json(state, tmp_path, "delete", "vm1")
    assert deleted == {"id": created["id"], "deleted": True}

    assert os.path.isfile(state / DB)
    # Nothing landed beside it (HOME is tmp_path): no half of the path, no
    # default state directory, no expanded "$name".
    # (~/.cache is stevedore's entry-point cache, which cliff's formatters
    # load through, as in every OpenStack client.)
    assert sorted(set(os.listdir(tmp_path)) - {".cache"}) == [name]


def test_data_is_copied_between_hosts_from_a_state_dir_with_odd_characters(
    tmp_path,
):
    # A space, '$', a URL's '%', '#' and '?', sshd_config's quote, comment
    # and escape characters, and sshd's %-token character.
    state = tmp_path / 'a b $x %20 #c ?d "e" \\f %u'
    created = server_json(state, tmp_path, "create", "vm1", "--flavor", "pmem.medium")
    source = created["pmem"].split("@", 1)[1]
    with open(source, "r+b") as f:
        f.write(GUEST_DATA)

    result = cli.embedded(
        state,
        "server", "migrate", "vm1", "--host", "compute2", "--copy-pmem-devices",
        "-f", "json",
        home=tmp_path,
    )  # fmt: skip

    if cli.NO_SSHD in result.stderr:
        sshd.unavailable(result.stderr.strip().splitlines()[-1])
    assert result.returncode == 0, result.stderr
    migrated = json.loads(result.stdout)
    assert (migrated["host"], migrated["vm_state"]) == ("compute2", "resized")
    dest = migrated["pmem"].split("@", 1)[1]
    assert dest.startswith(f"{state}/compute2/")
    with open(dest, "rb") as f:
        assert f.read(len(GUEST_DATA)) == GUEST_DATA


@pytest.mark.parametrize(
    "value",
    ["/srv/$x", "$state_path", "${host}", "$$", "\\$x", "\\\\$", "a\\", "100%", "$"],
)
def test_literal_values_come_back_from_oslo_config_unchanged(value):
    conf = cfg.ConfigOpts()
    pmt_conf.register_opts(conf)
    conf.register_cli_opt(pmt_conf.LiteralStrOpt("state-dir", dest="state_dir"))
    conf(["--state-dir", value], default_config_files=[])
    conf.set_override("state_path", pmt_conf.literal(value))

    assert (conf.state_dir, conf.state_path) == (value, value)
    # Options that default to "$state_path/..." get the path as it is.
    assert conf.pmem.simulated_path == f"{value}/simulated-pmem"
