"""A real ``redis-server`` (Debian's package) for tests: 127.0.0.1, a free port, its own folder.

``make test`` installs redis-server with apt-get when it is missing; a test never skips for want
of it (it fails, saying so). Persistence as docker-compose.yml runs it: ``appendonly yes`` with
``appendfsync everysec``: Redis writes each change to its append-only file before it replies, so
a killed (SIGKILL) server brought back on the same folder has every write it acknowledged (only a
machine crash could lose the last second, which no test here does).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_server_binary() -> str:
    found = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)
    if not found:
        raise RuntimeError("redis-server is not installed: `make test` installs it (apt-get install redis-server)")
    return found


class RedisServer:
    def __init__(self, directory: str | None = None, port: int | None = None):
        self.binary = redis_server_binary()
        self.dir = directory or tempfile.mkdtemp(prefix="mockprovider-redis-")
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> "RedisServer":
        self._log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.process = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", self.dir,
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
             "--protected-mode", "yes", "--loglevel", "warning"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}: {self.log()}")
            if self.ping():
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"redis-server did not answer on port {self.port}: {self.log()}")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def command(self, *args: str) -> bytes:
        """One command in RESP; the raw reply (enough for FLUSHALL, DBSIZE)."""
        payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(payload.encode())
            return s.recv(65536)

    def flush(self) -> None:
        assert self.command("FLUSHALL").startswith(b"+OK")

    def kill(self) -> None:
        """SIGKILL: no shutdown save, as a crashed or OOM-killed Redis."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        if getattr(self, "_log", None):
            self._log.close()

    def stop(self) -> None:
        self.kill()

    def log(self) -> str:
        try:
            with open(os.path.join(self.dir, "redis.log"), errors="replace") as fh:
                return fh.read()[-2000:]
        except OSError:
            return ""

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
