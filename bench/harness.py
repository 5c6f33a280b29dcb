"""What every scenario of ``make bench`` shares: settings, paths, the servers a run starts, machine facts.

Every server is started exactly as its users run it, under the same gunicorn settings
(``BENCH_WORKERS`` threaded workers, loopback), in its own session so that stopping it stops its
workers. Its output goes to ``bench/.work/<name>-<port>.log``.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

from bench.cases import Case, request

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WORK = BENCH / ".work"
RESULTS = BENCH / "results.json"
BIN = Path(sys.executable).parent
MOCKPROVIDER = str(BIN / "mockprovider")

WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
DURATION = int(os.environ.get("BENCH_DURATION", "8"))       # seconds measured per side (two rounds)
WARMUP = int(os.environ.get("BENCH_WARMUP", "1"))           # seconds of wrk warm-up before each
COLD_RUNS = int(os.environ.get("BENCH_COLD_RUNS", "5"))
PERSONA_COUNT = int(os.environ.get("BENCH_PERSONAS", "10000"))
MB = 1_000_000                                              # figures use decimal megabytes
MIGRATE_LIMIT = 100 * 1024 * 1024
RETRIEVE_LIMIT = 5 * 1024 * 1024

# Response headers the baseline must not copy (gunicorn sets them itself, or they vary per request).
HOP_HEADERS = {"date", "server", "connection", "content-length", "transfer-encoding", "keep-alive"}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ratio(a, b):
    return round(a / b, 3) if b else None


# --- servers ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int) -> dict:
    """/proc/<pid>/status memory fields in bytes."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(("VmRSS", "VmHWM")):
                    key, value = line.split(":")
                    out[key] = int(value.split()[0]) * 1024
    except FileNotFoundError:
        pass
    return out


def pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass
    return 0


class Server:
    """A server process this run started (its own session, so stopping it stops its workers)."""

    def __init__(self, name: str, argv: list[str], port: int, env: dict | None = None):
        self.name, self.argv, self.port = name, argv, port
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.stop_group = False
        self.log_path = WORK / f"{name}-{port}.log"

    def start(self) -> float:
        self.log_file = open(self.log_path, "wb")
        started = time.perf_counter()
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, cwd=str(ROOT))
        return started

    def wait_answer(self, case: Case, started: float, timeout: float = 60.0) -> float:
        """Seconds from ``started`` to the first answered request with the expected status."""
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}:\n"
                                   + self.log_path.read_text(errors="replace")[-2000:])
            try:
                status, _, _ = request(self.port, case, timeout=5)
                if status == case.expect:
                    return time.perf_counter() - started
                raise RuntimeError(f"{self.name}: {case.path} answered {status}, expected {case.expect}")
            except (ConnectionError, OSError):
                time.sleep(0.005)
        raise RuntimeError(f"{self.name} did not answer within {timeout} s")

    def workers(self) -> list[int]:
        pid = self.proc.pid
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as fh:
                return [int(p) for p in fh.read().split()]
        except FileNotFoundError:
            return []

    def memory(self) -> dict:
        pids = [self.proc.pid] + self.workers()
        rss = [proc_status(p).get("VmRSS", 0) for p in pids]
        return {"processes": len(pids), "rss_max": max(rss), "rss_master": rss[0],
                "rss_sum": sum(rss), "pss_total": sum(pss(p) for p in pids)}

    def cpu_seconds(self) -> float:
        """User + system CPU time of the master and its workers so far."""
        total = 0
        for pid in [self.proc.pid] + self.workers():
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (FileNotFoundError, IndexError, ValueError):
                pass
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        if self.stop_group:
            os.killpg(self.proc.pid, signal.SIGTERM)   # our own session: the wrapper and what it started
        else:
            self.proc.send_signal(signal.SIGTERM)       # gunicorn: graceful stop of master and workers
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)   # our own session only
            self.proc.wait()
        self.log_file.close()


def product_server(port: int, personas: str | None = None) -> Server:
    state = tempfile.mkdtemp(prefix="state-", dir=WORK)
    argv = [MOCKPROVIDER, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS)]
    if personas:
        argv += ["--personas", personas]
    return Server("product", argv, port, {"MOCKPROVIDER_STATE_DIR": state})


WIREMOCK = BENCH / "node_modules" / ".bin" / "wiremock"    # npm wiremock 3.x: runs its jar with the machine's Java


def wiremock_server(port: int, root: Path, journal: bool) -> Server:
    """WireMock standalone as its users run it (request journal on), or with --no-request-journal."""
    argv = [str(WIREMOCK), "--port", str(port), "--bind-address", "127.0.0.1", "--root-dir", str(root),
            "--disable-banner"]
    if not journal:
        argv.append("--no-request-journal")
    server = Server("wiremock" if journal else "wiremock_no_journal", argv, port)
    server.stop_group = True      # node starts java as its child: stop the whole (own) session
    return server


def write_wiremock_root(answers: list) -> Path:
    """Stub mappings answering each case with the product's own bytes: one stub per Ssp-TraceID
    (Bundle.id is the trace id) and a lower-priority one for any other trace id."""
    root = WORK / "wiremock"
    shutil.rmtree(root, ignore_errors=True)
    (root / "mappings").mkdir(parents=True)
    (root / "__files").mkdir()
    for case, status, headers, bodies in answers:
        response_headers = {k: v for k, v in keep_headers(headers)}
        for n, (trace, body) in enumerate(bodies.items()):
            name = f"{case.name}-{n}.body"
            (root / "__files" / name).write_bytes(body)
            match = {"X-Bench-Case": {"equalTo": case.name}}
            for priority, extra in ((1, {"Ssp-TraceID": {"equalTo": trace}}), (10, {})):
                if priority == 10 and n:
                    continue
                stub = {"priority": priority,
                        "request": {"method": case.method, "urlPath": urlsplit(case.path).path,
                                    "headers": {**match, **extra}},
                        "response": {"status": status, "headers": response_headers, "bodyFileName": name}}
                (root / "mappings" / f"{case.name}-{n}-{priority}.json").write_text(json.dumps(stub))
    return root


def replay_server(port: int, manifest: Path) -> Server:
    return Server("baseline", [sys.executable, str(BENCH / "baseline.py"), "replay", "--port", str(port),
                               "--workers", str(WORKERS), "--manifest", str(manifest)], port)


def floor_server(port: int, manifest: Path) -> Server:
    """bench/floor.py served: only a valid migrate's essential steps, the product's bytes."""
    return Server("floor", [sys.executable, str(BENCH / "floor.py"), "serve", "--port", str(port),
                            "--workers", str(WORKERS), "--manifest", str(manifest),
                            "--journal", str(WORK / "floor-journal.jsonl")], port)


def flask_server(port: int, body: Path) -> Server:
    return Server("flask", [sys.executable, str(BENCH / "baseline.py"), "flask", "--port", str(port),
                            "--workers", str(WORKERS), "--body", str(body)], port)


def cold_start(make_server, probe: Case) -> tuple[list[float], dict]:
    """Start a new server (``make_server(port)``): seconds from process start to the first answer
    to ``probe`` with its expected status, and the server's memory then."""
    times = []
    server = make_server(free_port())
    try:
        started = server.start()
        times.append(server.wait_answer(probe, started))
        memory = server.memory()
    finally:
        server.stop()
    return times, memory


# --- the baseline's manifest: the product's own bytes ------------------------------------------------
class Manifest:
    def __init__(self):
        self.cases: dict = {}

    def add_bodies(self, case: Case, status: int, headers, bodies: dict[str, bytes]) -> None:
        files = {}
        for n, (trace, body) in enumerate(bodies.items()):
            name = f"{case.name}-{n}.body"
            (WORK / name).write_bytes(body)
            files[trace] = name
        self.cases[case.name] = {"status": status_line(status), "headers": keep_headers(headers), "bodies": files}

    def add_file(self, case: Case, status: int, headers, file_name: str) -> None:
        self.cases[case.name] = {"status": status_line(status), "headers": keep_headers(headers), "file": file_name}

    def write(self) -> Path:
        path = WORK / "manifest.json"
        path.write_text(json.dumps({"cases": self.cases}, indent=1))
        return path


def status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


def keep_headers(headers) -> list:
    return [[k, v] for k, v in headers if k.lower() not in HOP_HEADERS]


# --- machine facts ------------------------------------------------------------------------------------
def machine() -> dict:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()
    return {"nproc": os.cpu_count(), "cpu_model": cpu, "memory_gb": round(mem / 1024 ** 3, 1),
            "python": platform.python_version(), "kernel": platform.release(),
            "wrk": wrk_version[0].split(" [")[0] if wrk_version else "", "workers": WORKERS}


def git_commit() -> str:
    out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True, cwd=ROOT).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")
