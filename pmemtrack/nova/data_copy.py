"""Copying a moving instance's namespaces inside Nova: which pairs,
whether the flavor asks, and the verified mover shared with the standalone
service."""

import dataclasses
import getpass
import os
import shlex
import types

from oslo_concurrency import processutils
from oslo_log import log as logging
from oslo_utils import strutils

from pmemtrack.nova import conf as nova_conf
from pmemtrack.virt.datamover import mover
from pmemtrack.virt.datamover import pairing
from pmemtrack.virt.datamover import ssh
from pmemtrack.virt.libvirt import lease
from pmemtrack.virt.libvirt import privileged

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


class _Tools(privileged.Tools):
    def lease_path(self, devpath):
        # One lease per device path, the same rule on every host: the source
        # names the destination's leases by the devices Nova reported.
        return os.path.join(self.lease_dir, devpath.strip("/").replace("/", "%"))


def tools(options):
    return _Tools(
        types.SimpleNamespace(
            backend="ndctl",
            command_timeout=options.command_timeout,
            wipe_timeout=options.wipe_timeout,
            lease_dir=options.lease_dir,
            ndctl_path="ndctl",
            daxctl_path=options.daxctl_path,
            daxio_path=options.daxio_path,
        )
    )


def lease_path(options, devpath):
    """The write lease of the dax device at ``devpath``, on its own host."""
    return tools(options).lease_path(devpath)


# -- the request the privileged daemon runs ---------------------------------------

_OPTIONS = ("command_timeout", "wipe_timeout", "lease_dir", "daxctl_path",
            "daxio_path", "stall_timeout", "chunk_size", "parallel_streams")  # fmt: skip
_DEVICE = ("name", "label", "devpath", "size", "align")


def request(device_pairs, dest, same_host, token, conf):
    """The copy as plain data for the privileged daemon (which may read the
    source devices): SSH settings are resolved here, as the nova-compute
    user whose keys Nova's resize uses."""
    settings = None if same_host else ssh_settings(conf)
    return {
        "pairs": [
            [{f: getattr(d, f) for f in _DEVICE} for d in pair] for pair in device_pairs
        ],  # fmt: skip
        "dest": None if same_host else dest,
        "ssh": dataclasses.asdict(settings) if settings else None,
        "options": {name: getattr(conf, name) for name in _OPTIONS},
        "token": token,
    }


def run(copy_request):
    """Run a ``request``: [CopyResult as a dict], or the copy's exception."""
    options = types.SimpleNamespace(**copy_request["options"])
    settings = copy_request["ssh"]
    copier = DataCopier(options)
    results = copier.copy(
        [
            tuple(types.SimpleNamespace(**d) for d in pair)
            for pair in copy_request["pairs"]
        ],
        copy_request["dest"],
        ssh.Settings(**settings) if settings else None,
        copy_request["token"],
    )
    return [dataclasses.asdict(result) for result in results]


class _Destination:
    """Runs commands where the new namespaces are: here, or over SSH."""

    def __init__(self, address, settings, timeout):
        self.address, self.settings, self.timeout = address, settings, timeout

    def run(self, argv):
        if self.address is None:
            try:
                processutils.execute(*argv, timeout=self.timeout)
                return
            except processutils.ProcessExecutionError as err:
                status, stderr = err.exit_code, err.stderr or ""
        else:
            with ssh.connect(self.address, self.settings) as connection:
                result = connection.exec(shlex.join(argv), self.timeout)
            if result.exit_status == 0:
                return
            status = result.exit_status
            stderr = result.stderr.decode(errors="replace")
        raise RuntimeError(f"{argv[0]} exited {status}: {stderr.strip()}")

    def __str__(self):
        return self.address or "this host"


class DataCopier:
    """The copy of a move's namespaces under their destination's write leases
    (``virt.libvirt.lease``): the source grants each new namespace's lease to
    the move before any byte is written; writers refuse to write without it;
    the destination revokes it when the instance lands there
    (``finish_migration``) or wipes the namespace when nobody owns it."""

    def __init__(self, options):
        self.options = options

    def copy(self, device_pairs, dest, settings, token):
        """Copy and verify every pair as move ``token`` to ``dest`` (None:
        this host); on failure zero what reached the destination (it may
        hold part of this tenant's data) and raise."""
        destination = _Destination(dest, settings, self.options.wipe_timeout)
        copy_tools = tools(self.options)
        news = [new for _, new in device_pairs]
        try:
            for new in news:
                grant = lease.grant_argv(copy_tools.lease_path(new.devpath), token)
                destination.run(grant)
            return mover.copy_namespaces(
                device_pairs,
                copy_tools,
                dest=dest,
                ssh_settings=settings,
                stall_timeout=self.options.stall_timeout,
                chunk_size=self.options.chunk_size,
                parallel_streams=self.options.parallel_streams,
                lease_token=token,
            )
        except Exception:
            self._zero_destination(copy_tools, destination, news)
            raise

    @staticmethod
    def _zero_destination(copy_tools, destination, devices):
        for device in devices:
            wipe = copy_tools.argv("daxio", "-z", "-o", device.devpath)
            try:
                destination.run(
                    lease.revoke_argv(copy_tools.lease_path(device.devpath), wipe)
                )
            except Exception as err:
                # The destination's periodic pass wipes it once its writer is
                # gone: its lease still names this move, and nobody owns it.
                LOG.error(
                    "Zeroing destination namespace %s (%s) on %s after a failed "
                    "copy failed (a writer may still run there); that host "
                    "keeps it out of the pool and wipes it later: %s",
                    device.name,
                    device.devpath,
                    destination,
                    err,
                )
