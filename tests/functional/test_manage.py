"""pmemtrack-manage driven as an operator would: a real process, a real DB."""

import os
import shutil
import subprocess
import sys

import pytest

MANAGE = shutil.which("pmemtrack-manage", path=os.path.dirname(sys.executable))


def run(tmp_path, *args, conf_text=""):
    conf = tmp_path / "pmemtrack.conf"
    conf.write_text(f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\n" + conf_text)
    return subprocess.run(
        [MANAGE, "--config-file", str(conf), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_db_sync_and_version(empty_database, tmp_path):
    db = f"[database]\nconnection = {empty_database.url}\n"
    before = run(tmp_path, "db", "version", conf_text=db)
    assert before.returncode == 0, before.stderr
    assert before.stdout.startswith("empty (head is 0004")
    synced = run(tmp_path, "db", "sync", conf_text=db)
    assert synced.returncode == 0, synced.stderr
    assert "from empty to 0004" in synced.stdout
    after = run(tmp_path, "db", "version", conf_text=db)
    assert after.stdout.strip() == "0004 (up to date)"


def test_db_sync_from_older_revision(empty_database, tmp_path):
    db = f"[database]\nconnection = {empty_database.url}\n"
    assert (
        run(tmp_path, "db", "sync", "--revision", "0001", conf_text=db).returncode == 0
    )
    synced = run(tmp_path, "db", "sync", conf_text=db)
    assert "from 0001 to 0004" in synced.stdout


@pytest.mark.parametrize("backend", ["sqlite"])
def test_default_database_is_sqlite_under_state_path(backend, tmp_path):
    synced = run(tmp_path, "db", "sync")
    assert synced.returncode == 0, synced.stderr
    assert (tmp_path / "state" / "pmemtrack.sqlite").exists()


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    "conf_text, expected",
    [
        ("[quota]\ndefault_limit = -7\n", "[quota] default_limit = '-7'"),
        (
            "[database]\nmax_retries = 0\n"
            "connection = mysql+pymysql://nobody:secret@127.0.0.1:1/none\n",
            "nobody:***@127.0.0.1:1/none",
        ),
        (
            "[database]\nconnection = notaurl\n",
            "[database] connection = 'notaurl': not a database URL",
        ),
    ],
)
def test_bad_input_gives_one_line_and_changes_nothing(
    backend, tmp_path, conf_text, expected
):
    result = run(tmp_path, "db", "sync", conf_text=conf_text)
    assert result.returncode == 1
    assert result.stderr.startswith("ERROR: ")
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert "secret" not in result.stderr
    assert not (tmp_path / "state" / "pmemtrack.sqlite").exists()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_unknown_revision_is_one_line_and_changes_nothing(backend, tmp_path):
    result = run(tmp_path, "db", "sync", "--revision", "9999")
    assert result.returncode == 1
    assert result.stderr == (
        "ERROR: --revision '9999' is not a revision of this release "
        "(known: 0001, 0002, 0003, 0004, or head)\n"
    )
    assert not (tmp_path / "state" / "pmemtrack.sqlite").exists()
