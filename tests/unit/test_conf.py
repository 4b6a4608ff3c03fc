"""Configuration: defaults, errors that name the option and value, the sample."""

import os
import subprocess
import sys

from oslo_config import cfg
import pytest

from pmemtrack import conf as pmt_conf
from pmemtrack.conf import validate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(ROOT, "etc", "pmemtrack", "pmemtrack.conf.sample")
NOVA_SAMPLE = os.path.join(ROOT, "etc", "pmemtrack", "nova-pmemtrack.conf.sample")


@pytest.fixture
def make_conf(tmp_path):
    def load(text):
        path = tmp_path / "pmemtrack.conf"
        path.write_text(text)
        conf = cfg.ConfigOpts()
        pmt_conf.register_opts(conf)
        conf([], default_config_files=[str(path)])
        return conf

    return load


def test_defaults_need_no_setup(make_conf):
    conf = make_conf("[DEFAULT]\nstate_path = /srv/pmt\n")
    validate.check(conf)
    assert conf.database.connection == "sqlite:////srv/pmt/pmemtrack.sqlite"
    assert conf.pmem.backend == "ndctl"
    assert conf.pmem.namespaces == []
    assert conf.quota.default_limit == -1
    assert conf.migration.host_key_policy == "reject"
    assert conf.libvirt.connection_uri == "qemu:///system"


def test_nova_namespace_format_is_accepted(make_conf):
    conf = make_conf("[pmem]\nnamespaces = 128G:ns0|ns1|ns2,MEDIUM:ns6|ns7\n")
    validate.check(conf)
    assert conf.pmem.namespaces == ["128G:ns0|ns1|ns2", "MEDIUM:ns6|ns7"]


@pytest.mark.parametrize(
    "text, group, option, value",
    [
        ("[pmem]\nnamespaces = 4GB:ns0,bad entry\n", "pmem", "namespaces", "bad entry"),
        ("[pmem]\nnamespaces = :ns0\n", "pmem", "namespaces", ":ns0"),
        ("[pmem]\nbackend = magic\n", "pmem", "backend", "magic"),
        ("[quota]\ndefault_limit = -7\n", "quota", "default_limit", "-7"),
        (
            "[quota]\nclass_limits = CUSTOM_PMEM_NAMESPACE_A:x\n",
            "quota",
            "class_limits",
            "CUSTOM_PMEM_NAMESPACE_A:x",
        ),
        ("[migration]\nssh_port = 70000\n", "migration", "ssh_port", "70000"),
        (
            "[migration]\nhost_key_policy = trust\n",
            "migration",
            "host_key_policy",
            "trust",
        ),
    ],
)
def test_bad_value_names_option_and_value(make_conf, text, group, option, value):
    conf = make_conf(text)
    with pytest.raises(validate.InvalidConfig) as err:
        validate.check(conf)
    message = str(err.value)
    assert f"[{group}] {option}" in message
    assert value in message


@pytest.mark.parametrize(
    "generator, sample",
    [
        ("pmemtrack.conf", SAMPLE),
        # The [pmemtrack] group of nova.conf, for nova-compute hosts.
        ("pmemtrack-nova.conf", NOVA_SAMPLE),
    ],
)
def test_sample_config_is_generated_and_current(tmp_path, generator, sample):
    """Fails when an option changed but the sample was not regenerated."""
    fresh = tmp_path / os.path.basename(sample)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "oslo_config.generator",
            "--config-file",
            os.path.join(ROOT, "etc", "oslo-config-generator", generator),
            "--output-file",
            str(fresh),
        ],
        check=True,
        cwd=ROOT,
    )
    with open(sample) as committed:
        assert committed.read() == fresh.read_text(), (
            f"{os.path.relpath(sample, ROOT)} is stale: run 'tox -e genconfig'"
        )
