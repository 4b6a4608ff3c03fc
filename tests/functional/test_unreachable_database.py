"""An unreachable MariaDB or PostgreSQL is retried [database] max_retries
times, retry_interval apart (oslo.db's connect retry), on both backends: a
database that comes up meanwhile is used; one that never does is one line."""

import socket
import subprocess
import threading
import time

import pytest
from sqlalchemy.engine import url as sa_url

from tests.functional.cmd import cli

SERVER_BACKENDS = ["mysql", "postgresql"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LateForwarder:
    """A database that comes up late: once started, listens on ``port`` and
    forwards each connection to the real server."""

    def __init__(self, port, target):
        self.port, self.target = port, target
        self.connections = 0
        self._listener = None

    def start(self):
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            server = socket.create_connection(self.target)
            for one, other in ((client, server), (server, client)):
                threading.Thread(target=_pipe, args=(one, other), daemon=True).start()

    def close(self):
        if self._listener is not None:
            self._listener.close()


def _pipe(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        sink.close()


def _conf(tmp_path, url, port, max_retries):
    moved = sa_url.make_url(url).set(host="127.0.0.1", port=port)
    return cli.write_conf(tmp_path / "db.conf", {
        "database": {
            "connection": moved.render_as_string(hide_password=False),
            "max_retries": str(max_retries),
            "retry_interval": "1",
        },
    })  # fmt: skip


@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_a_database_that_never_answers_is_retried_then_one_line(
    backend, db_engine, tmp_path
):
    conf = _conf(tmp_path, cli.db_url(db_engine), _free_port(), max_retries=2)

    started = time.monotonic()
    result = cli.manage(conf, "db", "version")

    assert time.monotonic() - started >= 2  # two waits of retry_interval
    assert result.stderr.count("SQL connection failed.") == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ERROR: database ") and "***" in last
    assert "Traceback" not in result.stderr
    assert result.returncode == 1


@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_a_database_that_comes_up_while_retried_is_used(backend, db_engine, tmp_path):
    url = db_engine.url
    port = _free_port()
    default_port = {"mysql": 3306, "postgresql": 5432}[backend]
    forwarder = LateForwarder(port, (url.host or "127.0.0.1", url.port or default_port))
    conf = _conf(tmp_path, cli.db_url(db_engine), port, max_retries=30)
    command = subprocess.Popen(
        [cli.MANAGE, "--config-file", str(conf), "db", "version"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # The database comes up once the command has found it down.
        first_failure = command.stderr.readline()
        assert "SQL connection failed." in first_failure, first_failure
        forwarder.start()
        stdout, stderr = command.communicate(timeout=120)
    finally:
        command.kill()
        forwarder.close()

    assert command.returncode == 0, stderr
    assert stdout.strip().endswith("(up to date)")
    assert forwarder.connections >= 1
