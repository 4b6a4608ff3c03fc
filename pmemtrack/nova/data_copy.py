"""Copying a moving instance's namespaces inside Nova (seed 001): which pairs,
whether the flavor asks, and the verified mover shared with the standalone
service."""

import getpass
import os
import shlex
import subprocess
import types

from oslo_log import log as logging
from oslo_utils import strutils

from pmemtrack.nova import conf as nova_conf
from pmemtrack.virt.libvirt import mover
from pmemtrack.virt.libvirt import pairing
from pmemtrack.virt.libvirt import privileged
from pmemtrack.virt.libvirt import ssh

LOG = logging.getLogger(__name__)
_DEFAULT_KEYS = ("id_ed25519", "id_ecdsa", "id_rsa")


def wanted(flavor, conf):
    """Whether ``flavor`` (the new one, for a resize) asks for its PMEM data
    to be copied; ``[pmemtrack] copy_pmem_devices`` when it does not say."""
    value = flavor.extra_specs.get(nova_conf.COPY_SPEC)
    if value is None:
        return conf.copy_pmem_devices
    return strutils.bool_from_string(value, strict=True)


def pairs(driver, instance, new_flavor, migration_uuid):
    """[(old, new)] LibvirtVPMEMDevice in guest device order: the old
    devices as this host discovered them (never as a blob says), the new ones
    as the destination reported them to Nova."""
    context = instance.migration_context
    old = driver._get_ordered_vpmem_resources(instance.resources, instance.flavor)
    new = driver._get_ordered_vpmem_resources(context.new_resources, new_flavor)
    return pairing.in_guest_order(
        [driver._vpmems_by_name[r.identifier] for r in old],
        [r.metadata for r in new],
        migration_uuid,
    )


def _home_file(*parts):
    return os.path.join(os.path.expanduser("~"), ".ssh", *parts)


def ssh_settings(conf):
    """SSH as Nova's own resize reaches a destination: the nova-compute
    user and its keys, unless ``[pmemtrack]`` says otherwise."""
    key = conf.ssh_key_file
    if key is None:
        keys = [_home_file(name) for name in _DEFAULT_KEYS]
        key = next((k for k in keys if os.path.exists(k)), keys[0])
    return ssh.Settings(
        user=conf.ssh_user or getpass.getuser(),
        key_file=key,
        known_hosts_file=conf.known_hosts_file or _home_file("known_hosts"),
        port=conf.ssh_port,
        host_key_policy=conf.host_key_policy,
        connect_timeout=conf.connect_timeout,
    )


class DataCopier:
    def __init__(self, conf):
        self.conf = conf

    @property
    def tools(self):
        # Read at each use: the options may be changed while nova-compute runs
        # (SIGHUP reloads mutable options; tests set them).
        conf = self.conf
        return privileged.Tools(
            types.SimpleNamespace(
                backend="ndctl",
                command_timeout=conf.command_timeout,
                wipe_timeout=conf.wipe_timeout,
                lease_dir=conf.lease_dir,
                ndctl_path="ndctl",
                daxctl_path=conf.daxctl_path,
                daxio_path=conf.daxio_path,
            )
        )

    def lease_path(self, devpath):
        return self.tools.lease_path(devpath)

    def copy(self, device_pairs, dest, same_host):
        """Copy and verify every pair; on failure zero what reached the
        destination (it may hold part of this tenant's data) and raise."""
        address = None if same_host else dest
        settings = None if same_host else ssh_settings(self.conf)
        tools = self.tools
        with mover.Mover(
            tools,
            address,
            settings,
            stall_timeout=self.conf.stall_timeout,
            chunk_size=self.conf.chunk_size,
        ) as data_mover:
            try:
                return [data_mover.copy(old, new) for old, new in device_pairs]
            except Exception:
                self._zero_destination(
                    tools, data_mover, [new for _, new in device_pairs]
                )
                raise

    def _zero_destination(self, tools, data_mover, devices):
        for device in devices:
            argv = tools.argv("daxio", "-z", "-o", device.devpath)
            try:
                if data_mover.dest is None:
                    subprocess.run(argv, check=True, capture_output=True,
                                   timeout=self.conf.wipe_timeout)  # fmt: skip
                else:
                    connection = ssh.connect(data_mover.dest, data_mover.ssh_settings)
                    with connection:
                        result = connection.exec(
                            shlex.join(argv), self.conf.wipe_timeout
                        )
                    if result.exit_status != 0:
                        raise RuntimeError(
                            f"daxio exited {result.exit_status}: "
                            f"{result.stderr.decode(errors='replace').strip()}"
                        )
            except Exception as err:
                LOG.critical(
                    "Zeroing destination namespace %s (%s) on %s after a failed "
                    "copy failed: it may hold part of the instance's data; zero "
                    "it by hand (daxio -z -o %s) before it is used again: %s",
                    device.name,
                    device.devpath,
                    data_mover.dest or "this host",
                    device.devpath,
                    err,
                )
