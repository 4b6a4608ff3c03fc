"""ComputeDriver: what nova-compute and the resource tracker ask of a driver.

Method names and signatures follow Nova's ``nova.virt.driver.ComputeDriver`` for
the subset pmemtrack implements, plus the PMEM calls the tracker makes.
"""

import abc


class ComputeDriver(abc.ABC):
    # -- PMEM, for the resource tracker ---------------------------------------

    @abc.abstractmethod
    def get_available_nodes(self, refresh=False):
        """Names of the nodes this driver manages."""

    @abc.abstractmethod
    def get_pmem_namespaces(self, nodename):
        """The namespaces the node offers: a list of
        ``resource_tracker.inventory.DiscoveredNamespace``."""

    @abc.abstractmethod
    def get_pmem_namespaces_in_use(self, nodename):
        """{namespace name: domain name} for every namespace a guest on the
        hypervisor uses, whatever the database says (orphans are found here)."""

    @abc.abstractmethod
    def wipe_pmem_namespaces(self, devices):
        """Zero each LibvirtVPMEMDevice in ``devices``; return the names whose
        wipe failed (they must not be handed out)."""
