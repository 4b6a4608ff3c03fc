"""Without libvirt-python the service stops at start-up, saying what to
install; nothing stands in for libvirt."""

import subprocess
import sys
import textwrap

from pmemtrack.virt.libvirt import host
from tests.fixtures import databases

# A fresh interpreter where ``import libvirt`` fails, as on a host where the
# package was never installed (None in sys.modules makes the import raise).
_WITHOUT_LIBVIRT = textwrap.dedent("""
    import sys
    sys.modules["libvirt"] = None
    from pmemtrack import exception
    from pmemtrack.conf import CONF
    from pmemtrack.virt.libvirt import driver
    CONF([], project="pmemtrack")
    try:
        driver.LibvirtDriver().host.get_connection()
    except exception.LibvirtPythonMissing as err:
        print(err)
        sys.exit(3)
    print("connected")
""")


def test_a_missing_libvirt_python_stops_the_driver_with_what_to_install():
    run = subprocess.run([sys.executable, "-c", _WITHOUT_LIBVIRT],
                         capture_output=True, text=True, timeout=120)  # fmt: skip

    assert run.returncode == 3, run.stdout + run.stderr
    assert "libvirt-python is not installed" in run.stdout
    assert "pip install 'pmemtrack[libvirt]'" in run.stdout
    assert "libvirt-dev" in run.stdout


def test_with_libvirt_python_the_driver_talks_to_libvirt_itself():
    try:
        import libvirt
    except ImportError:
        databases.unavailable("libvirt", "libvirt-python is not installed")

    assert host.libvirt_module() is libvirt
    conn = host.Host("test:///default").get_connection()
    assert conn.getType() == "TEST"
