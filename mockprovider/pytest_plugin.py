"""A pytest plugin for consumer teams: a live mock GP Connect provider for a whole test session.

Installed with the package and registered as the ``pytest11`` entry point ``gpconnect_provider``,
so a project that has ``mockprovider`` installed just asks for the fixture::

    def test_my_client_migrates_a_record(gpconnect_provider):
        provider = gpconnect_provider
        provider.control.put_persona("9000000009", {"nhs_number": "9000000009",
            "name": {"family": "Tester"}, "gender": "female", "birth_date": "1980-01-01"})
        client = MyGpConnectClient(provider.structured_root)       # the code under test
        bundle = client.migrate_structured_record("9000000009")
        assert bundle["resourceType"] == "Bundle"
        assert provider.control.requests(1)[0]["interaction"] == "migrate_structured"

``gpconnect_provider`` (session scope) is a real ``mockprovider serve`` (gunicorn) on 127.0.0.1 on
a free port, started once and stopped at the end of the session. It has:

- ``url``: ``http://127.0.0.1:<port>``; ``port``; ``ods_code``; ``provider_asid``;
- ``structured_root``, ``documents_root``, ``single_root``: the three FHIR service roots;
- ``control``: a :class:`mockprovider.control_client.ControlClient` (flags, faults, personas,
  journal, reset);
- ``reset()``: back to the start-up state (flags, no faults, the start-up cast, empty journal);
  called before every test that uses the fixture, so tests never see each other's changes;
- ``output()``: what the server printed so far (start-up line, access lines).

Settings: the usual ``MOCKPROVIDER_*`` environment variables, or the ini options
``gpconnect_provider_personas`` (a personas folder), ``gpconnect_provider_workers`` (default 2) and
``gpconnect_provider_args`` (more ``mockprovider serve`` options).
"""
from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

START_TIMEOUT = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GPConnectProvider:
    """A running ``mockprovider serve``; see the module docstring."""

    def __init__(self, workers: int = 2, personas: str | None = None, args=(), env: dict | None = None):
        from .config import Settings
        from .control_client import ControlClient
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {**os.environ, **(env or {})}
        settings = Settings.from_env(environ)
        if personas:
            settings = settings.with_changes(personas=personas)
        from .registry import practices
        try:        # the default practice of the registry the server will read (docs/lookups.md)
            default = practices.load(settings).default
            self.ods_code, self.provider_asid = default.ods, default.asid
        except practices.RegistryError:       # the server refuses to start and says why
            self.ods_code, self.provider_asid = settings.ods_code, settings.provider_asid
        practice = f"{self.url}/{self.ods_code}/STU3/1"
        self.structured_root = f"{practice}/gpconnect/structured/fhir"
        self.documents_root = f"{practice}/gpconnect/documents/fhir"
        self.single_root = f"{practice}/gpconnect/fhir"
        self.control = ControlClient(self.url, environ.get("MOCKPROVIDER_CONTROL_TOKEN"), timeout=30)
        command = [sys.executable, "-c", "from mockprovider.cli import cli; cli()", "serve",
                   "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers), *args]
        if personas:
            command += ["--personas", personas]
        self._log = tempfile.TemporaryFile()
        # Its control state in a folder this object removes (stop), even if the server must be killed.
        self._state_dir = None
        if not environ.get("MOCKPROVIDER_STATE_DIR") and not environ.get("MOCKPROVIDER_STATE_URL"):
            self._state_dir = environ["MOCKPROVIDER_STATE_DIR"] = tempfile.mkdtemp(prefix="mockprovider-state-")
        self.process = subprocess.Popen(command, env=environ, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mockprovider serve exited with {self.process.returncode}: {self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/_control/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"mockprovider serve did not answer within {START_TIMEOUT} s: {self.output()}")

    def reset(self) -> dict:
        return self.control.reset()

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGINT)
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
            except ProcessLookupError:
                pass
        if self._state_dir:
            import shutil
            shutil.rmtree(self._state_dir, ignore_errors=True)

    def __repr__(self):
        return f"GPConnectProvider({self.url})"


def pytest_addoption(parser):
    parser.addini("gpconnect_provider_personas", "personas folder for the gpconnect_provider fixture "
                  "(default: MOCKPROVIDER_PERSONAS or the built-in cast)", default="")
    parser.addini("gpconnect_provider_workers", "gunicorn workers of the gpconnect_provider fixture", default="2")
    parser.addini("gpconnect_provider_args", "more `mockprovider serve` options for the gpconnect_provider "
                  "fixture", default="")


@pytest.fixture(scope="session")
def gpconnect_provider(request):
    """A live mock GP Connect provider for the session; reset before each test that uses it."""
    config = request.config
    provider = GPConnectProvider(workers=int(config.getini("gpconnect_provider_workers") or 2),
                                 personas=config.getini("gpconnect_provider_personas") or None,
                                 args=shlex.split(config.getini("gpconnect_provider_args") or ""))
    yield provider
    provider.stop()


@pytest.fixture(autouse=True)
def _gpconnect_provider_reset(request):
    if "gpconnect_provider" in request.fixturenames:
        request.getfixturevalue("gpconnect_provider").reset()
    yield
