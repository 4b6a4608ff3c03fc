"""[libvirt] options: how the driver reaches the hypervisor."""

from oslo_config import cfg

from pmemtrack.conf import groups

libvirt_group = cfg.OptGroup(
    "libvirt", title="Libvirt driver", help="How the libvirt driver connects."
)

libvirt_opts = [
    cfg.StrOpt(
        "connection_uri",
        default="qemu:///system",
        help="Libvirt connection URI. 'test:///default' is libvirt's in-process "
        "test driver, used by the embedded default and the functional tests.",
    ),
]


def register_opts(conf):
    groups.register(conf, libvirt_group, libvirt_opts)


def list_opts():
    return {libvirt_group: libvirt_opts}
