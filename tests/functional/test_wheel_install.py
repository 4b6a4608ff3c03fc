"""What an operator installs: the wheel, built from this tree and installed
into a fresh virtualenv outside it, runs ``db sync`` on every backend and the
main job (``pmemtrack demo``) with nothing from the source tree."""

import json
import os
import subprocess
import sys
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=1200, **kwargs)


# The sdist is built with the PEP 517 hook of the setuptools that builds the
# editable install; the wheel is then built from the sdist alone, so a file the
# sdist forgets is missing from what the operator installs.
_BUILD_SDIST = "import sys; from setuptools import build_meta; " \
    "print(build_meta.build_sdist(sys.argv[1]))"  # fmt: skip
SDIST_MUST_HOLD = (
    "README.rst",
    "setup.cfg",
    "etc/pmemtrack/pmemtrack.conf.sample",
    "etc/pmemtrack/nova-pmemtrack.conf.sample",
    "pmemtrack/db/alembic.ini",
    "pmemtrack/db/migrations/env.py",
    "pmemtrack/db/migrations/script.py.mako",
    "pmemtrack/db/migrations/versions/0001_initial.py",
    "nova/virt/pmemtrack/__init__.py",
)


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    work = tmp_path_factory.mktemp("sdist")
    built = _run([sys.executable, "-c", _BUILD_SDIST, str(work)], cwd=ROOT)
    assert built.returncode == 0, built.stderr
    return work / built.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def installed(sdist, tmp_path_factory):
    """bin/ of a fresh venv with the wheel built from the sdist (and its
    libvirt extra) installed."""
    work = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                  "-w", str(work / "dist"), str(sdist)])  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = (work / "dist").iterdir()
    venv = work / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)]).returncode == 0
    pip = _run(
        [str(venv / "bin" / "pip"), "install", "-q", f"{wheel}[libvirt]"], cwd=work
    )
    assert pip.returncode == 0, pip.stderr
    return venv / "bin"


def test_the_sdist_holds_what_the_package_needs(sdist):
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        names = {name.partition("/")[2] for name in archive.getnames()}
    assert top.startswith("pmemtrack-")
    missing = [name for name in SDIST_MUST_HOLD if name not in names]
    assert missing == []
    versions = {n for n in names if n.startswith("pmemtrack/db/migrations/versions/")}
    here = os.listdir(os.path.join(ROOT, "pmemtrack/db/migrations/versions"))
    assert {f"pmemtrack/db/migrations/versions/{n}" for n in here
            if n.endswith(".py")} <= versions  # fmt: skip


def test_the_sample_configs_are_installed(installed):
    etc = installed.parent / "etc" / "pmemtrack"
    for name in ("pmemtrack.conf.sample", "nova-pmemtrack.conf.sample"):
        with (
            open(etc / name) as installed_file,
            open(os.path.join(ROOT, "etc", "pmemtrack", name)) as source,
        ):
            assert installed_file.read() == source.read()


def test_the_installed_package_is_the_wheel_not_the_source_tree(installed, tmp_path):
    where = _run(
        [
            str(installed / "python"),
            "-c",
            "import pmemtrack; print(pmemtrack.__file__)",
        ],
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    assert "site-packages" in where.stdout
    assert not where.stdout.startswith(ROOT)


def test_db_sync_from_the_wheel(installed, empty_database, tmp_path):
    conf = tmp_path / "pmemtrack.conf"
    conf.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\n"
        f"[database]\nconnection = {empty_database.url}\n"
    )
    manage = [str(installed / "pmemtrack-manage"), "--config-file", str(conf)]
    synced = _run([*manage, "db", "sync"], cwd=tmp_path)
    assert synced.returncode == 0, synced.stderr
    assert "from empty to 0004" in synced.stdout
    version = _run([*manage, "db", "version"], cwd=tmp_path)
    assert version.stdout.strip() == "0004 (up to date)"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_demo_runs_from_the_wheel(installed, backend, tmp_path):
    env = {**os.environ, "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    env.pop("PMEMTRACK_STATE_DIR", None)
    demo = _run(
        [
            str(installed / "pmemtrack"),
            "--state-dir",
            str(tmp_path / "state"),
            "demo",
            "-f",
            "json",
        ],  # fmt: skip
        cwd=tmp_path,
        env=env,
    )
    assert demo.returncode == 0, demo.stderr[-5000:]
    story = json.loads(demo.stdout)
    assert story["ok"], [step for step in story["steps"] if not step["ok"]]
