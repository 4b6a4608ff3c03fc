"""An unreachable MariaDB or PostgreSQL is retried [database] max_retries
times, retry_interval apart (oslo.db's connect retry), on both backends: a
database that comes up meanwhile is used; one that never does is one line."""

import socket
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
    """Listens on ``port`` only after ``delay`` seconds, then forwards each
    connection to the real server: a database that comes up late."""

    def __init__(self, port, target, delay):
        self.port, self.target, self.delay = port, target, delay
        self.connections = 0
        self._listener = None
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        time.sleep(self.delay)
        self._listener = socket.create_server(("127.0.0.1", self.port))
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
    forwarder = LateForwarder(port, (url.host or "127.0.0.1", url.port or
                              {"mysql": 3306, "postgresql": 5432}[backend]), 1.5)  # fmt: skip
    conf = _conf(tmp_path, cli.db_url(db_engine), port, max_retries=10)
    try:
        result = cli.manage(conf, "db", "version")
    finally:
        forwarder.close()

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("(up to date)")
    assert "SQL connection failed." in result.stderr
    assert forwarder.connections >= 1
