"""Nova's own functional vPMEM tests, unchanged, on pmemtrack's driver: the
computes start with ``compute_driver = pmemtrack.LibvirtDriver``."""

from nova.tests.functional.libvirt import test_vpmem as nova_vpmem


class PmemtrackVPMEMTests(nova_vpmem.VPMEMTests):
    compute_driver = "pmemtrack.LibvirtDriver"


class PmemtrackVPMEMResizeTests(nova_vpmem.VPMEMResizeTests):
    compute_driver = "pmemtrack.LibvirtDriver"
