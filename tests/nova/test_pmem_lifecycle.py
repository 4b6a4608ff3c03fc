"""pmemtrack's vPMEM in a real Nova cloud (Nova's API, conductor, scheduler,
placement fixture and fake libvirt): namespaces are files of a simulated host,
discovered and wiped through Nova's own privileged calls running the ndctl
and daxio stand-ins, and copied between hosts over a real sshd on 127.0.0.1.
"""

import contextlib
import os
import signal
import sys
import time
from unittest import mock
from xml.etree import ElementTree

import fixtures
from nova import context as nova_context
from nova import objects
from nova.compute import instance_actions
from nova.tests import fixtures as nova_fixtures
from nova.tests.functional.libvirt import base

from pmemtrack.nova import privileged
from pmemtrack.sandbox import simulated
from pmemtrack.sandbox.loopback_sshd import SSHServer

MiB = 1024 * 1024
SMALL, BIG = 8 * MiB, 16 * MiB
PATTERN = b"tenant data that must survive the move " * 1000
COPY_TRAIT = "CUSTOM_PMEMTRACK_DATA_COPY"


class PmemOnNovaBase(base.ServersTestBase):
    # Guests are really defined and started on Nova's fake libvirt (its
    # provider-usage base stubs spawn out).
    ADMIN_API = True
    # RPC casts stay casts, as in a real cloud: a compute's failure does not
    # travel back up to the API or the conductor.
    CAST_AS_CALL = False
    microversion = "latest"

    # Nova's wait helpers give an operation 5 s (10 polls 0.5 s apart), sized
    # for its in-process fakes. Here every ndctl, daxio and ssh is a real
    # process: a move takes seconds, several times that on a loaded CI host.
    PATIENCE = 60.0

    def _setup_compute_service(self):
        self.flags(compute_driver="pmemtrack.LibvirtDriver")

    def _patiently(self, wait, *args, **kwargs):
        """Repeat one of Nova's 5 s waits until PATIENCE has passed."""
        deadline = time.monotonic() + self.PATIENCE
        while True:
            try:
                return wait(*args, **kwargs)
            except self.failureException:
                if time.monotonic() >= deadline:
                    raise

    def _wait_for_server_parameter(self, *args, **kwargs):
        return self._patiently(super()._wait_for_server_parameter, *args, **kwargs)

    def _wait_for_migration_status(self, *args, **kwargs):
        return self._patiently(super()._wait_for_migration_status, *args, **kwargs)

    def _wait_for_instance_action_event(self, *args, **kwargs):
        return self._patiently(super()._wait_for_instance_action_event, *args, **kwargs)

    def setUp(self):
        super().setUp()
        self.work = self.useFixture(fixtures.TempDir()).path
        bindir = os.path.join(self.work, "bin")
        os.makedirs(bindir)
        for tool in ("ndctl", "daxctl", "daxio"):
            standin = os.path.join(
                os.path.dirname(sys.executable), f"pmemtrack-sim-{tool}"
            )
            os.symlink(standin, os.path.join(bindir, tool))
        path = bindir + os.pathsep + os.environ["PATH"]
        self.useFixture(fixtures.EnvironmentVariable("PATH", path))
        # Nova's privileged calls and pmemtrack's own (daxctl, the copy) run in
        # this process, executing the stand-ins.
        self.useFixture(nova_fixtures.PrivsepFixture())
        self.useFixture(
            fixtures.MockPatchObject(privileged.dax_admin_pctxt, "client_mode", False)
        )
        self.useFixture(
            fixtures.MockPatch(
                "nova.virt.libvirt.LibvirtDriver._get_instance_disk_info",
                return_value=[],
            )
        )
        # Nova's fake instance directories hold no disk to move (as in Nova's
        # own resize tests).
        self.useFixture(fixtures.MockPatch("os.rename"))
        self.flags(pmem_namespaces="SMALL:ns_a|ns_b,BIG:ns_c", group="libvirt")
        self.flags(
            lease_dir=os.path.join(self.work, "leases"),
            state_dir=os.path.join(self.work, "state"),
            sysfs_dir=os.path.join(self.work, "sys"),
            daxio_path=os.path.join(bindir, "daxio"),
            group="pmemtrack",
        )
        self.worlds = {}
        self.ctxt = nova_context.get_admin_context()

    def _world(self, hostname):
        """A host with two 8 MiB SMALL namespaces on NUMA node 0 and a 16 MiB
        BIG one on node 1 (numa_node only in sysfs, as without ndctl -v)."""
        root = os.path.join(self.work, hostname)
        simulated.ensure_root(root)
        for name, size, node in (
            ("ns_a", SMALL, 0),
            ("ns_b", SMALL, 0),
            ("ns_c", BIG, 1),
        ):
            entry = simulated.create_namespace(root, name, size, numa_node=node)
            sysfs = os.path.join(self.work, "sys", "bus", "nd", "devices", entry["dev"])
            os.makedirs(sysfs, exist_ok=True)
            with open(os.path.join(sysfs, "numa_node"), "w") as f:
                f.write(f"{node}\n")
        self.worlds[hostname] = root
        return root

    def _start_host(self, hostname, cxl=False):
        self._world(hostname)
        if cxl:
            # A CXL memory device exposed as devdax, listed by daxctl only.
            entry = simulated.create_dax_device(self.worlds[hostname], SMALL)
            self.flags(
                pmem_namespaces=f"SMALL:ns_a|ns_b,BIG:ns_c,CXL:{entry['chardev']}",
                group="libvirt",
            )
        with self._discovering(hostname):
            self.start_compute(hostname)
        return self.computes[hostname]

    def _restart_host(self, hostname):
        """nova-compute restarts; the guests defined on the host stay."""
        with self._discovering(hostname):
            self.restart_compute_service(hostname)
        return self.computes[hostname]

    @contextlib.contextmanager
    def _discovering(self, hostname):
        """The ndctl stand-in lists the world it is pointed at: this host's,
        while this host's driver discovers. Wipes and copies find the world
        from the device path."""
        os.environ[simulated.ENV_VAR] = self.worlds[hostname]
        self.flags(
            device_dir=os.path.join(self.worlds[hostname], "dev"), group="pmemtrack"
        )
        try:
            yield
        finally:
            del os.environ[simulated.ENV_VAR]

    def _boot(self, flavor, hostname, expected_state="ACTIVE"):
        return self._create_server(
            image_uuid="155d900f-4e14-4e4c-a73d-069cbf4541e6",
            flavor_id=flavor,
            networks="none",
            az=f"nova:{hostname}",
            expected_state=expected_state,
        )

    def _devices(self, server, column="resources"):
        instance = objects.Instance.get_by_uuid(
            self.ctxt, server["id"], expected_attrs=["resources", "migration_context"]
        )
        if column == "resources":
            resources = instance.resources
        else:
            resources = getattr(instance.migration_context, column)
        return [r.metadata for r in resources or []]

    @staticmethod
    def _read(device):
        with open(device.devpath, "rb") as f:
            return f.read(len(PATTERN))

    @staticmethod
    def _write(device, data=PATTERN):
        with open(device.devpath, "r+b") as f:
            f.write(data)

    @staticmethod
    def _zeroed(device):
        with open(device.devpath, "rb") as f:
            return not any(f.read())

    def _resources_of(self, server):
        """{provider: resources} the server holds in placement."""
        allocations = self._get_allocations_by_server_uuid(server["id"])
        return {rp: alloc["resources"] for rp, alloc in allocations.items()}

    def _assert_every_namespace_zero(self, hostname, but=None):
        """Every device of the host reads zero, ``but`` (a device) aside."""
        dev_dir = os.path.join(self.worlds[hostname], "dev")
        for chardev in os.listdir(dev_dir):
            path = os.path.join(dev_dir, chardev)
            if but is not None and path == but.devpath:
                continue
            with open(path, "rb") as f:
                self.assertFalse(any(f.read()), chardev)

    def _host_of(self, server):
        return self.api.get_server(server["id"])["OS-EXT-SRV-ATTR:host"]


class GuestDataOnOneHostTest(PmemOnNovaBase):
    def test_reboots_stop_start_suspend_and_a_host_restart_keep_the_data(self):
        self._start_host("host1")
        flavor = self._create_flavor(extra_spec={"hw:pmem": "SMALL"})
        server = self._boot(flavor, "host1")
        (device,) = self._devices(server)
        self._write(device)

        server = self._reboot_server(server, hard=True)
        self.assertEqual(PATTERN, self._read(device))
        server = self._reboot_server(server)
        self.assertEqual(PATTERN, self._read(device))
        server = self._stop_server(server)
        server = self._start_server(server)
        self.assertEqual(PATTERN, self._read(device))
        server = self._suspend_server(server)
        server = self._resume_server(server)
        self.assertEqual(PATTERN, self._read(device))
        self.flags(resume_guests_state_on_host_boot=True)
        self._restart_host("host1")
        self._wait_for_state_change(server, "ACTIVE")
        self.assertEqual(PATTERN, self._read(device))

        self._delete_server(server)
        self.assertTrue(self._zeroed(device))

    def test_a_build_that_fails_on_the_hypervisor_wipes_its_namespace(self):
        self._start_host("host1")
        flavor = self._create_flavor(extra_spec={"hw:pmem": "BIG"})
        written = []

        def guest_dies_after_writing(guest, pause=False):
            # The guest ran long enough to write to its nvdimm, then died.
            xml = ElementTree.fromstring(guest.get_xml_desc())
            path = xml.findtext("./devices/memory[@model='nvdimm']/source/path")
            with open(path, "r+b") as f:
                f.write(PATTERN)
            written.append(path)
            raise RuntimeError("qemu died")

        with mock.patch(
            "nova.virt.libvirt.guest.Guest.launch", guest_dies_after_writing
        ):
            self._boot(flavor, "host1", expected_state="ERROR")
        (path,) = written
        with open(path, "rb") as f:
            self.assertFalse(any(f.read()))

    def test_each_nvdimm_sits_on_the_guest_cell_of_its_host_node_at_an_aligned_size(
        self,
    ):
        compute = self._start_host("host1")
        flavor = self._create_flavor(
            vcpu=2, extra_spec={"hw:pmem": "BIG", "hw:numa_nodes": "2"}
        )
        server = self._boot(flavor, "host1")
        (device,) = self._devices(server)
        conn = compute.driver._host.get_connection()
        domain = ElementTree.fromstring(
            conn.lookupByUUIDString(server["id"]).XMLDesc(0)
        )
        cell_of_host_node = {
            int(node): int(memnode.get("cellid"))
            for memnode in domain.findall("./numatune/memnode")
            for node in memnode.get("nodeset").split(",")
        }
        (nvdimm,) = domain.findall("./devices/memory[@model='nvdimm']")
        self.assertEqual(device.devpath, nvdimm.findtext("./source/path"))
        # ns_c is on host node 1: the guest cell pinned there, not cell 0.
        self.assertEqual(cell_of_host_node[1], int(nvdimm.findtext("./target/node")))
        self.assertNotEqual(0, cell_of_host_node[1])
        size = int(nvdimm.findtext("./target/size"))
        self.assertEqual(0, size % int(nvdimm.findtext("./source/alignsize")))

    def test_a_namespace_whose_wipe_failed_is_never_handed_out_until_wiped(self):
        compute = self._start_host("host1")
        flavor = self._create_flavor(extra_spec={"hw:pmem": "SMALL"})
        server = self._boot(flavor, "host1")
        (device,) = self._devices(server)
        self._write(device)
        daxio = os.path.join(self.work, "bin", "daxio")
        working = os.readlink(daxio)
        os.unlink(daxio)
        os.symlink("/bin/false", daxio)

        self._delete_server(server)
        self.assertEqual(PATTERN, self._read(device))
        compute.manager.update_available_resource(self.ctxt)
        rp = self.compute_rp_uuids["host1"]
        small = self._get_provider_inventory(rp)["CUSTOM_PMEM_NAMESPACE_SMALL"]
        self.assertEqual((2, 1), (small["total"], small["reserved"]))
        # One SMALL namespace is left to give, not two.
        self._boot(flavor, "host1")
        self._boot(flavor, "host1", expected_state="ERROR")

        os.unlink(daxio)
        os.symlink(working, daxio)
        compute.manager.update_available_resource(self.ctxt)
        self.assertTrue(self._zeroed(device))
        small = self._get_provider_inventory(rp)["CUSTOM_PMEM_NAMESPACE_SMALL"]
        self.assertEqual(0, small["reserved"])

    def test_a_host_an_instance_was_evacuated_from_wipes_its_namespaces_on_return(
        self,
    ):
        self._start_host("host1")
        self._start_host("host2")
        flavor = self._create_flavor(extra_spec={"hw:pmem": "SMALL"})
        (taken_on_host2,) = self._devices(self._boot(flavor, "host2"))
        both = [self._boot(flavor, "host1"), self._boot(flavor, "host1")]
        # Evacuate the one whose new namespace on host2 gets another name:
        # the other instance holds a namespace of that name on host1, which
        # Nova's own driver would wipe when host1 comes back.
        (moving,) = [s for s in both if self._devices(s)[0].name == taken_on_host2.name]
        (staying,) = [s for s in both if s is not moving]
        (old,) = self._devices(moving)
        (bystander,) = self._devices(staying)
        self._write(old)
        self._write(bystander, b"the bystander's own data")

        self.computes["host1"].stop()
        service = self.api.get_services(host="host1", binary="nova-compute")[0]
        self.api.put_service(service["id"], {"forced_down": True})
        # Since microversion 2.95 an evacuated instance arrives stopped.
        moving = self._evacuate_server(moving, expected_host="host2")
        (new,) = self._devices(moving)
        self.assertEqual(bystander.name, new.name)
        # The old tenant's data stays until its host comes back.
        self.assertEqual(PATTERN, self._read(old))

        self._restart_host("host1")
        self.assertTrue(self._zeroed(old))
        with open(bystander.devpath, "rb") as f:
            self.assertEqual(b"the bystander's own data", f.read(24))

    def test_a_cxl_dax_device_is_offered_used_and_wiped_like_a_namespace(self):
        self.flags(
            discover_dax_devices=True,
            daxctl_path=os.path.join(self.work, "bin", "daxctl"),
            group="pmemtrack",
        )
        self._start_host("host1", cxl=True)
        rp = self.compute_rp_uuids["host1"]
        self.assertEqual(
            1, self._get_provider_inventory(rp)["CUSTOM_PMEM_NAMESPACE_CXL"]["total"]
        )
        flavor = self._create_flavor(extra_spec={"hw:pmem": "CXL"})
        server = self._boot(flavor, "host1")
        (device,) = self._devices(server)
        self.assertIn(self.worlds["host1"], device.devpath)
        self._write(device)
        self._delete_server(server)
        self.assertTrue(self._zeroed(device))

    def test_a_flavor_asking_for_copy_is_never_scheduled_to_a_host_without_it(self):
        self.flags(compute_driver="libvirt.LibvirtDriver")
        self._start_host("nova-only")
        flavor = self._create_flavor(
            extra_spec={"hw:pmem": "SMALL", f"trait:{COPY_TRAIT}": "required"}
        )
        self._boot(flavor, "nova-only", expected_state="ERROR")


class GuestDataAcrossMovesTest(PmemOnNovaBase):
    def setUp(self):
        super().setUp()
        self.sshd = SSHServer(os.path.join(self.work, "sshd")).start()
        self.addCleanup(self.sshd.stop)
        # migrate_disk_and_power_off is given the destination's my_ip.
        self.flags(my_ip="127.0.0.1")
        self.flags(
            ssh_user=self.sshd.user,
            ssh_port=self.sshd.port,
            ssh_key_file=self.sshd.client_key,
            known_hosts_file=self.sshd.known_hosts,
            group="pmemtrack",
        )
        self.small = self._create_flavor(
            extra_spec={"hw:pmem": "SMALL", "pmemtrack:copy_pmem_devices": "true"}
        )
        # The new flavor's first device is the guest's first nvdimm: it gets
        # the data of the old flavor's first.
        self.bigger = self._create_flavor(
            extra_spec={"hw:pmem": "BIG,SMALL", "pmemtrack:copy_pmem_devices": "true"}
        )

    def _daxio_whose_writes(self, action):
        """daxio for the copy whose writers (``-s``: the destination side)
        run the shell ``action`` instead; reads and wipes pass through."""
        path = os.path.join(self.work, "bin", "daxio-injected")
        with open(path, "w") as f:
            f.write(
                "#!/bin/sh\n"
                f'case " $* " in *" -s "*) {action};; esac\n'
                f'exec {os.path.join(self.work, "bin", "daxio")} "$@"\n'
            )
        os.chmod(path, 0o755)
        self.flags(daxio_path=path, group="pmemtrack")

    def _wait_for_failed_resize(self, server):
        """Until the source's resize_instance has ended in error. Nova marks
        the migration failed and the server ACTIVE before it gives the
        instance its allocations back; the action event ends after both."""
        self._wait_for_action_fail_completion(
            server, instance_actions.RESIZE, "compute_resize_instance"
        )
        self._wait_for_migration_status(server, ["error"])

    def _resize(self, server, flavor):
        self.api.post_server_action(server["id"], {"resize": {"flavorRef": flavor}})
        return self._wait_for_state_change(server, "VERIFY_RESIZE")

    def test_resize_copies_the_data_revert_wipes_the_destination_confirm_the_source(
        self,
    ):
        self.flags(allow_resize_to_same_host=False)
        self._start_host("host1")
        self._start_host("host2")
        server = self._boot(self.small, "host1")
        (source,) = self._devices(server)
        self._write(source)

        server = self._resize(server, self.bigger)
        self.assertEqual("host2", self._host_of(server))
        first, second = self._devices(server, "new_resources")
        self.assertIn(self.worlds["host2"], first.devpath)
        self.assertEqual(PATTERN, self._read(first))
        self.assertTrue(self._zeroed(second))

        self.api.post_server_action(server["id"], {"revertResize": None})
        server = self._wait_for_state_change(server, "ACTIVE")
        self.assertEqual("host1", self._host_of(server))
        self.assertEqual(PATTERN, self._read(source))
        self.assertTrue(self._zeroed(first))

        server = self._resize(server, self.bigger)
        first, _second = self._devices(server, "new_resources")
        self.api.post_server_action(server["id"], {"confirmResize": None})
        server = self._wait_for_state_change(server, "ACTIVE")
        self.assertEqual("host2", self._host_of(server))
        self.assertEqual(PATTERN, self._read(first))
        self.assertTrue(self._zeroed(source))

    def test_cold_migration_copies_the_data(self):
        self._start_host("host1")
        self._start_host("host2")
        server = self._boot(self.small, "host1")
        (source,) = self._devices(server)
        self._write(source)

        self.api.post_server_action(server["id"], {"migrate": None})
        server = self._wait_for_state_change(server, "VERIFY_RESIZE")
        (target,) = self._devices(server, "new_resources")
        self.assertEqual(PATTERN, self._read(target))
        self.api.post_server_action(server["id"], {"confirmResize": None})
        self._wait_for_state_change(server, "ACTIVE")
        self.assertEqual(PATTERN, self._read(target))
        self.assertTrue(self._zeroed(source))

    def test_a_move_copies_its_namespaces_in_parallel_streams(self):
        # [pmemtrack] parallel_streams = 2: both namespaces travel at once.
        self.flags(parallel_streams=2, group="pmemtrack")
        self._start_host("host1")
        self._start_host("host2")
        two = self._create_flavor(
            extra_spec={"hw:pmem": "SMALL,SMALL", "pmemtrack:copy_pmem_devices": "true"}
        )
        server = self._boot(two, "host1")
        sources = self._devices(server)
        for i, device in enumerate(sources, start=1):
            self._write(device, bytes([i]) * len(PATTERN))
        # Each destination writer registers, waits (up to 20 s) until two are
        # registered, then notes how many it saw: one stream at a time would
        # note 1 and then 2.
        writers = os.path.join(self.work, "writers")
        os.makedirs(writers)
        seen = os.path.join(self.work, "seen")
        self._daxio_whose_writes(
            f"touch {writers}/$$; i=0; "
            f'while [ "$(ls {writers} | wc -l)" -lt 2 ] && [ $i -lt 200 ]; '
            f"do sleep 0.1; i=$((i+1)); done; ls {writers} | wc -l >> {seen}"
        )

        self.api.post_server_action(server["id"], {"migrate": None})
        server = self._wait_for_state_change(server, "VERIFY_RESIZE")

        with open(seen) as f:
            self.assertEqual([2, 2], sorted(int(line) for line in f))
        targets = self._devices(server, "new_resources")
        self.assertEqual(
            [bytes([1]) * len(PATTERN), bytes([2]) * len(PATTERN)],
            [self._read(device) for device in targets],
        )

    def test_same_host_resize_copies_the_data(self):
        self.flags(allow_resize_to_same_host=True)
        self._start_host("host1")
        server = self._boot(self.small, "host1")
        (source,) = self._devices(server)
        self._write(source)

        server = self._resize(server, self.bigger)
        first, _second = self._devices(server, "new_resources")
        self.assertEqual(PATTERN, self._read(first))
        self.api.post_server_action(server["id"], {"confirmResize": None})
        self._wait_for_state_change(server, "ACTIVE")
        self.assertEqual(PATTERN, self._read(first))

    def test_a_failed_copy_leaves_the_instance_active_on_its_source_with_its_data(
        self,
    ):
        self.flags(allow_resize_to_same_host=False)
        self._start_host("host1")
        self._start_host("host2")
        server = self._boot(self.small, "host1")
        (source,) = self._devices(server)
        self._write(source)
        allocations_before = self._resources_of(server)
        # The destination's daxio refuses to write (-s: the copy's writer;
        # reads and wipes pass): the copy fails midway.
        self._daxio_whose_writes('echo "daxio: write failed" >&2; exit 1')

        self.api.post_server_action(
            server["id"], {"resize": {"flavorRef": self.bigger}}
        )
        self._wait_for_failed_resize(server)
        server = self._wait_for_state_change(server, "ACTIVE")
        self.assertEqual("host1", self._host_of(server))
        self.assertEqual(PATTERN, self._read(source))
        # Whatever reached the destination was zeroed again.
        self._assert_every_namespace_zero("host2")
        self.assertEqual(allocations_before, self._resources_of(server))
        self.assertEqual([source], self._devices(server))

    def test_a_failed_same_host_copy_zeroes_what_it_wrote(self):
        self.flags(allow_resize_to_same_host=True)
        self._start_host("host1")
        server = self._boot(self.small, "host1")
        (source,) = self._devices(server)
        self._write(source)
        # The writer writes the tenant's data into the new namespace, then
        # fails: the new namespace holds it until the copy's cleanup runs.
        daxio = os.path.join(self.work, "bin", "daxio")
        self._daxio_whose_writes(f'{daxio} "$@"; exit 1')

        self.api.post_server_action(
            server["id"], {"resize": {"flavorRef": self.bigger}}
        )
        self._wait_for_failed_resize(server)
        server = self._wait_for_state_change(server, "ACTIVE")
        self.assertEqual([source], self._devices(server))
        self.assertEqual(PATTERN, self._read(source))
        self._assert_every_namespace_zero("host1", but=source)

    def test_a_stalled_destination_writer_keeps_its_namespace_out_of_the_pool(self):
        self.flags(allow_resize_to_same_host=False)
        self.flags(stall_timeout=2, group="pmemtrack")
        self._start_host("host1")
        self._start_host("host2")
        server = self._boot(self.small, "host1")
        (source,) = self._devices(server)
        self._write(source)
        # The destination's writer (-s) hangs holding the namespace's lease,
        # as a frozen process would; reads and wipes pass.
        pidfile = os.path.join(self.work, "writer.pid")
        self._daxio_whose_writes(f"echo $$ > {pidfile}; exec sleep 120")

        self.api.post_server_action(
            server["id"], {"resize": {"flavorRef": self.bigger}}
        )
        self._wait_for_failed_resize(server)
        server = self._wait_for_state_change(server, "ACTIVE")
        self.assertEqual("host1", self._host_of(server))
        self.assertEqual(PATTERN, self._read(source))
        with open(pidfile) as f:
            writer = int(f.read())
        self.addCleanup(_kill, writer)

        # The copy's writer lives on: its namespace (BIG, the guest's first
        # device in the new flavor) is reserved, never handed out.
        host2, rp2 = self.computes["host2"], self.compute_rp_uuids["host2"]
        host2.manager.update_available_resource(self.ctxt)
        big = self._get_provider_inventory(rp2)["CUSTOM_PMEM_NAMESPACE_BIG"]
        self.assertEqual((1, 1), (big["total"], big["reserved"]))

        _kill(writer)
        host2.manager.update_available_resource(self.ctxt)
        big = self._get_provider_inventory(rp2)["CUSTOM_PMEM_NAMESPACE_BIG"]
        self.assertEqual(0, big["reserved"])
        self._assert_every_namespace_zero("host2")


def _kill(pid):
    """End the process and wait until it is gone."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(500):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
