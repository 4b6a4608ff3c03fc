"""Inside real Nova: the Nova environment (nova 34.0.0 from PyPI, pmemtrack
from a built wheel) runs Nova's own vPMEM functional tests and its generic
driver tests on pmemtrack's driver, and pmemtrack's tests on Nova's harness
(tests/nova, through tools/nova-tests). Skipped where nova cannot be
installed, unless PMEMTRACK_REQUIRE_BACKENDS names ``nova`` (or ``all``)."""

import os
import re
import subprocess

from tests.fixtures import databases

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CANNOT_INSTALL = 3
# Nova's own tests, as Nova ships them, on pmemtrack's driver.
NOVA_OWN_TESTS = [
    "test_nova_vpmem.PmemtrackVPMEMTests.test_create_servers_with_vpmem",
    "test_nova_vpmem.PmemtrackVPMEMResizeTests.test_resize",
    "test_nova_vpmem.PmemtrackVPMEMResizeTests.test_resize_same_host",
    "test_virt_driver.PmemtrackLibvirtDriverTestCase.test_reboot",
    "test_load.PmemtrackDriverLoaderTest.test_load_new_drivers",
]


def test_nova_own_vpmem_and_driver_tests_pass_on_pmemtrack_driver():
    done = subprocess.run(
        [os.path.join(ROOT, "tools", "nova-tests")],
        capture_output=True,
        text=True,
        timeout=3000,
    )
    output = done.stdout + done.stderr
    if done.returncode == CANNOT_INSTALL:
        databases.unavailable("nova", output.strip().splitlines()[-1])
    # What explains a failure: the tests that did not pass and stestr's
    # tracebacks, not pip's warnings (which pytest would cut it down to).
    explained = "\n".join(
        line for line in output.splitlines()
        if "Location 'file:" not in line and "Eventlet" not in line
    )[-20000:]  # fmt: skip
    failed = re.findall(r"(\S+) \[[0-9.]+s\] \.\.\. FAILED", output)
    assert done.returncode == 0, f"failed: {failed}\n{explained}"
    for test_id in NOVA_OWN_TESTS:
        assert re.search(rf"{re.escape(test_id)} \[[0-9.]+s\] \.\.\. ok", output), (
            f"{test_id} did not pass:\n{output[-20000:]}"
        )
    assert re.search(r"- Failed: 0\b", output), output[-20000:]
