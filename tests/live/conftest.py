"""Live-server fixtures: a real ``mockprovider serve`` (gunicorn) on 127.0.0.1, on a free port.

For what the Flask test client cannot do: real sockets (resets, truncation, slow bodies), several
gunicorn workers sharing one control state, the CLI talking HTTP. Reusable by any test under
``tests/live/`` (reliability, bench, …):

- ``live_server`` (module scope): one server, 2 workers, on SQLite and again on Redis, reset to start-up defaults before each
  test that uses it (via the autouse ``_reset_live_server``, which does nothing for tests that
  don't use ``live_server``).
- ``start_server`` (function scope): a factory for a server with other options, stopped after
  the test: ``start_server(workers=4, env={"MOCKPROVIDER_CONTROL_TOKEN": "t"}, args=["--dev"])``.
- :class:`LiveServer`: ``.url``, ``.port``, ``.env``, ``.control`` (a
  mockprovider.control_client.ControlClient), ``.get(path, headers)`` / ``.request(method, path,
  headers, body)`` returning a :class:`Answer` (``status``, ``headers``, ``body``, ``error``: the
  exception a broken connection raised, if any), ``.stderr()`` (what the server printed so far),
  ``.stop()``.

Servers are started with ``python -c 'from mockprovider.cli import cli; cli()' serve`` in a new
process group, and stopped with SIGINT (gunicorn's quick shutdown), then SIGKILL after 10 s, so a
failing test never leaves a server behind. Start-up waits for ``/_control/health`` (20 s at most).
"""
from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import pytest

from mockprovider.control_client import ControlClient

START_TIMEOUT = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Answer:
    status: int | None
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    error: BaseException | None = None      # e.g. ConnectionResetError, RemoteDisconnected, IncompleteRead


class LiveServer:
    def __init__(self, workers: int = 2, env: dict | None = None, args=()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKPROVIDER_")}
        self.env.update(env or {})
        # The server's state folder is the test's, removed by stop() even when the server had to be
        # killed (a server's own private folder is only removed when it exits cleanly).
        self.state_dir = None
        if "MOCKPROVIDER_STATE_DIR" not in self.env:
            self.state_dir = self.env["MOCKPROVIDER_STATE_DIR"] = tempfile.mkdtemp(prefix="mockprovider-test-state-")
        self.token = self.env.get("MOCKPROVIDER_CONTROL_TOKEN")
        self.control = ControlClient(self.url, self.token, timeout=30)
        self._log = tempfile.TemporaryFile()
        command = [sys.executable, "-c", "from mockprovider.cli import cli; cli()", "serve",
                   "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers), *args]
        self.process = subprocess.Popen(command, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mockprovider serve exited with {self.process.returncode}:\n{self.stderr()}")
            try:
                if self.get("/_control/health", timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"mockprovider serve did not answer within {START_TIMEOUT} s:\n{self.stderr()}")

    def request(self, method: str, path: str, headers=None, body: bytes | None = None, timeout: float = 30) -> Answer:
        """One request on a new connection; a broken connection is an Answer with ``error`` set."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            answer = Answer(response.status, dict(response.headers))
            try:
                answer.body = response.read()
            except (http.client.IncompleteRead, ConnectionError) as exc:
                answer.body = getattr(exc, "partial", b"")
                answer.error = exc
            return answer
        except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine) as exc:
            return Answer(None, error=exc)
        finally:
            connection.close()

    def get(self, path: str, headers=None, timeout: float = 30) -> Answer:
        return self.request("GET", path, headers, timeout=timeout)

    def stderr(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGINT)
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
            except ProcessLookupError:
                pass
        if self.state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def live_server(request):
    """Once on each control-state backend: SQLite (the default) and Redis (MOCKPROVIDER_STATE_URL,
    the session's real redis-server): every live test must behave the same on both."""
    env = {}
    if request.param == "redis":
        env["MOCKPROVIDER_STATE_URL"] = request.getfixturevalue("redis_server").url
    server = LiveServer(workers=2, env=env)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _reset_live_server(request):
    if "live_server" in request.fixturenames:
        request.getfixturevalue("live_server").control.reset()
    yield


@pytest.fixture
def start_server():
    started = []

    def start(workers: int = 2, env: dict | None = None, args=()):
        server = LiveServer(workers, env, args)
        started.append(server)
        return server
    yield start
    for server in started:
        server.stop()
