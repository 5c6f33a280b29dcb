"""A real ``mockprovider serve`` (gunicorn) on 127.0.0.1, for what the test client cannot do:
TLS handshakes, raw sockets, slow clients, worker restarts.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

MOCKPROVIDER = str(Path(sys.executable).with_name("mockprovider"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``mockprovider serve`` in a subprocess; ``with LiveServer(...) as server:``."""

    def __init__(self, state_dir, *, workers=1, env=None, args=(), tls_client_context=None):
        self.port = free_port()
        self.host = "127.0.0.1"
        self.state_dir = str(state_dir)
        self.workers = workers
        self.extra_env = dict(env or {})
        self.args = list(args)
        self.tls = tls_client_context        # an ssl.SSLContext when the server speaks TLS
        self.proc = None
        self.log_path = Path(self.state_dir) / "server.log"

    # --- lifecycle -----------------------------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout=20.0):
        os.makedirs(self.state_dir, exist_ok=True)
        env = {**os.environ, "MOCKPROVIDER_STATE_DIR": self.state_dir, **self.extra_env}
        env = {k: v for k, v in env.items() if v is not None}
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [MOCKPROVIDER, "serve", "--host", self.host, "--port", str(self.port),
             "--workers", str(self.workers), *self.args],
            env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log()}")
            try:
                if self.request("GET", "/_control/health", timeout=2)[0] == 200 and \
                        len(self.worker_pids()) == self.workers:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not start: " + self.log())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: the children of the master process."""
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return []
        return sorted(int(pid) for pid in children)

    # --- talking to it -------------------------------------------------------------------------------
    def connection(self, timeout=10, context=None):
        if self.tls is not None or context is not None:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=context or self.tls)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=10, context=None):
        """(status, headers, body bytes) of one request on a fresh connection."""
        conn = self.connection(timeout, context)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()

    def control(self, method, path, payload=None, token=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        status, _, body = self.request(method, "/_control" + path,
                                       json.dumps(payload) if payload is not None else None, headers)
        return status, (json.loads(body) if body else None)

    def raw(self, data: bytes, read_timeout=5.0) -> bytes:
        """Send raw bytes on a plain socket; return everything the server answers until it closes."""
        with socket.create_connection((self.host, self.port), timeout=read_timeout) as s:
            s.sendall(data)
            chunks = []
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
            except (ConnectionResetError, socket.timeout):
                pass
            return b"".join(chunks)


def client_context(ca=None, cert=None) -> ssl.SSLContext:
    """A client TLS context trusting ``ca`` (trustme.CA) and presenting ``cert`` (trustme.LeafCert)."""
    context = ssl.create_default_context()
    if ca is not None:
        ca.configure_trust(context)
    if cert is not None:
        cert.configure_cert(context)
    return context
