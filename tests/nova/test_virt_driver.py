"""Nova's generic driver tests (``_VirtDriverTestCase``, with the set-up Nova
uses for its own libvirt driver) on pmemtrack's driver."""

from nova.tests.unit.virt import test_virt_drivers

from pmemtrack.nova import driver as pmemtrack_driver

DRIVER = "nova.virt.pmemtrack.LibvirtDriver"


class PmemtrackLibvirtDriverTestCase(test_virt_drivers.LibvirtConnTestCase):
    # Nova's set-up assigns its own driver's name before building the driver
    # under test; this class keeps pmemtrack's instead.
    @property
    def driver_module(self):
        return DRIVER

    @driver_module.setter
    def driver_module(self, _nova_driver):
        pass

    def test_the_driver_under_test_is_pmemtrack(self):
        self.assertIsInstance(self.connection, pmemtrack_driver.LibvirtDriver)
