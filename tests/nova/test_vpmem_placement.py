"""The nvdimm devices of a guest, as pmemtrack rewrites Nova's guest config:
on the guest NUMA cell pinned to the namespace's host node, at a size that is
a multiple of the namespace's alignment."""

from nova.virt.libvirt import config as vconfig
import testtools

from pmemtrack.nova import vpmem


def _guest(memnodes, nvdimms):
    guest = vconfig.LibvirtConfigGuest()
    guest.name = "instance-00000001"
    guest.numatune = vconfig.LibvirtConfigGuestNUMATune()
    for cellid, host_node in memnodes:
        memnode = vconfig.LibvirtConfigGuestNUMATuneMemNode()
        memnode.cellid, memnode.nodeset = cellid, [host_node]
        guest.numatune.memnodes.append(memnode)
    for path, size_kib, align_kib in nvdimms:
        dev = vconfig.LibvirtConfigGuestVPMEM()
        dev.source_path, dev.target_size, dev.align_size = path, size_kib, align_kib
        guest.add_device(dev)
    return guest


class PlacementTest(testtools.TestCase):
    def test_each_nvdimm_goes_to_the_guest_cell_pinned_to_its_host_node(self):
        guest = _guest(
            [(0, 1), (1, 0)], [("/dev/dax0.0", 4096, 2048), ("/dev/dax1.0", 4096, 2048)]
        )
        vpmem.place(guest, {"/dev/dax0.0": 0, "/dev/dax1.0": 1})
        self.assertEqual([1, 0], [d.target_node for d in guest.devices])

    def test_a_namespace_on_a_node_without_guest_cell_stays_on_cell_zero(self):
        guest = _guest([(0, 0)], [("/dev/dax1.0", 4096, 2048)])
        vpmem.place(guest, {"/dev/dax1.0": 1})
        self.assertEqual(0, guest.devices[0].target_node)

    def test_target_size_is_rounded_down_to_the_alignment(self):
        # 4 GiB less 1 MiB plus 1000 KiB: not a multiple of the 2 MiB align.
        size_kib = 4192256 + 1000
        guest = _guest([], [("/dev/dax0.0", size_kib, 2048)])
        vpmem.place(guest, {})
        self.assertEqual(4192256, guest.devices[0].target_size)
