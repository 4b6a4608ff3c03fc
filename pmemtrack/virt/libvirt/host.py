"""The connection to libvirt, opened lazily, and the domains behind it.

libvirt-python is the ``libvirt`` extra of the package (it compiles against
the host's libvirt). Where it is missing the service stops at start-up with
LibvirtPythonMissing: nothing ever stands in for libvirt, so a guest is never
"defined" on a hypervisor that does not exist. Tests and the demo use
libvirt's own ``test:///`` driver.
"""

import importlib

from oslo_log import log as logging

from pmemtrack import exception
from pmemtrack.virt.libvirt import config

LOG = logging.getLogger(__name__)

_libvirt = None


def libvirt_module():
    """libvirt-python, imported on first use; LibvirtPythonMissing if it is
    not installed."""
    global _libvirt
    if _libvirt is None:
        try:
            module = importlib.import_module("libvirt")
        except ImportError as err:
            raise exception.LibvirtPythonMissing(reason=err) from err
        # libvirt prints every error on stderr besides raising it; we raise.
        module.registerErrorHandler(lambda _ctx, _err: None, None)
        _libvirt = module
    return _libvirt


class Host:
    def __init__(self, uri):
        self.uri = uri
        self._conn = None

    @property
    def libvirt(self):
        return libvirt_module()

    def get_connection(self):
        if self._conn is None:
            try:
                self._conn = self.libvirt.open(self.uri)
            except self.libvirt.libvirtError as err:
                raise exception.HypervisorUnavailable(uri=self.uri, reason=err)
        return self._conn

    def domain_type(self):
        """The <domain type=...> this hypervisor takes."""
        kind = self.get_connection().getType().lower()
        return "test" if kind == "test" else "kvm"

    def hostname(self):
        return self.get_connection().getHostname()

    def lookup(self, name):
        """The domain called ``name``, or None when there is none."""
        try:
            return self.get_connection().lookupByName(name)
        except self.libvirt.libvirtError as err:
            if err.get_error_code() == self.libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise

    def define(self, xml):
        return self.get_connection().defineXML(xml)

    def domains(self):
        """Every domain libvirt knows, running or only defined."""
        return self.get_connection().listAllDomains(0)

    def nvdimm_users(self):
        """{device path: domain name} for every nvdimm of every domain."""
        users = {}
        for domain in self.domains():
            for path in config.nvdimm_paths(domain.XMLDesc(0)):
                users[path] = domain.name()
        return users
