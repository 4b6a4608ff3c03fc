"""nova-compute finds and accepts pmemtrack's driver exactly as it loads any:
``compute_driver = pmemtrack.LibvirtDriver``, through ``ComputeManager`` and
``load_compute_driver``."""

import sys

from nova.compute import manager
from nova.tests.unit.virt import test_virt_drivers
from nova.virt import driver as nova_driver
from nova.virt.libvirt import driver as nova_libvirt

from pmemtrack.nova import driver as pmemtrack_driver


class PmemtrackDriverLoaderTest(test_virt_drivers.VirtDriverLoaderTestCase):
    new_drivers = {"pmemtrack.LibvirtDriver": "LibvirtDriver"}

    def test_nova_compute_runs_on_pmemtrack_driver(self):
        self.flags(compute_driver="pmemtrack.LibvirtDriver")
        compute = manager.ComputeManager()
        self.assertIsInstance(compute.driver, pmemtrack_driver.LibvirtDriver)

    def test_load_compute_driver_accepts_it_as_nova_libvirt_driver(self):
        self.flags(compute_driver="pmemtrack.LibvirtDriver")
        loaded = nova_driver.load_compute_driver(virtapi=None)
        self.assertIsInstance(loaded, pmemtrack_driver.LibvirtDriver)
        self.assertIsInstance(loaded, nova_libvirt.LibvirtDriver)

    def test_inside_nova_pmemtrack_opens_no_database_of_its_own(self):
        self.flags(compute_driver="pmemtrack.LibvirtDriver")
        manager.ComputeManager()
        # Nova's resource tracker owns the assignment there.
        own_db_layers = [
            name
            for name in sys.modules
            if name.split(".")[:2]
            in (
                ["pmemtrack", "db"],
                ["pmemtrack", "objects"],
                ["pmemtrack", "resource_tracker"],
            )
        ]
        self.assertEqual([], own_db_layers)

    def test_pmemtrack_options_live_in_their_own_group_of_nova_conf(self):
        self.flags(copy_pmem_devices=True, group="pmemtrack")
        self.assertTrue(nova_driver.CONF.pmemtrack.copy_pmem_devices)
        # Nova's own vPMEM option is untouched and still the namespace list.
        self.assertEqual([], nova_driver.CONF.libvirt.pmem_namespaces)
