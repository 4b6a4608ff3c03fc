"""pmemtrack's own privileged calls through a real oslo.privsep daemon,
started with privsep-helper as nova-compute starts it (the tests run as root
in CI): what crosses the daemon's socket is plain data and comes back intact.
Each scenario runs in its own interpreter (``privsep_scenarios.py`` says why)."""

import json
import os
import subprocess
import sys

import fixtures
import testtools

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class PrivilegedDaemonTest(testtools.TestCase):
    def _run(self, scenario):
        if os.geteuid() != 0:
            # CI runs as root; there a missing daemon is a failure.
            if os.environ.get("PMEMTRACK_REQUIRE_BACKENDS"):
                self.fail("the privsep daemon needs root (PMEMTRACK_REQUIRE_BACKENDS)")
            self.skipTest("the privsep daemon needs root")
        work = self.useFixture(fixtures.TempDir()).path
        done = subprocess.run(
            [sys.executable, "-m", "tests.nova.privsep_scenarios", scenario, work],
            cwd=TOP,
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(0, done.returncode, done.stderr[-5000:])
        return json.loads(done.stdout.strip().splitlines()[-1])

    def test_daxctl_list_runs_in_the_daemon(self):
        seen = self._run("daxctl")
        self.assertIn('"chardev"', seen["listing"])

    def test_a_copy_runs_in_the_daemon_and_its_results_come_back(self):
        seen = self._run("copy")
        self.assertTrue(seen["arrived"])
        self.assertTrue(seen["result"]["verified"])
        self.assertEqual(4 * 1024 * 1024, seen["result"]["bytes_total"])

    def test_a_failed_copy_raises_through_the_daemon_and_zeroes_the_target(self):
        seen = self._run("failed_copy")
        self.assertIn("Copying namespace ns_old to ns_new", seen["error"])
        self.assertIn("failed", seen["error"])
        self.assertTrue(seen["zeroed"])
