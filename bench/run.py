#!/usr/bin/env python3
"""``make bench``: the product against the stack's own ceiling, side by side, in one run.

Every load figure is measured twice under identical gunicorn settings (``Settings.workers`` sync
workers, preload, loopback): once against ``mockprovider serve`` and once against a baseline that
answers with the very bytes the product returned, precomputed (``bench/baseline.py``). Figures are
reported as product, baseline and product/baseline, so a noisy machine still gives comparable
results. Load comes from wrk (``bench/wrk.lua``); a Python client is used only where wrk cannot do
the job: cold start (process start to first answered FHIR request) and streaming a Binary while
sampling the worker's peak RSS.

Writes ``bench/results.json`` and prints a table with PASS/MISS per target. Never part of
``make test`` (timings are not assertions); ``tests/unit/test_bench_harness.py`` only checks that
the pieces parse and fit together.
"""
from __future__ import annotations

import base64
import compileall
import hashlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

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

ODS = "B82617"
PROVIDER_ASID = "918999198738"
CONSUMER_ASID = "200000000359"
CONSUMER_ODS = "GPCA0001"
STRUCTURED = f"/{ODS}/STU3/1/gpconnect/structured/fhir"
METADATA_STRUCTURED = "urn:nhs:names:services:gpconnect:structured:fhir:rest:read:metadata-1"
MIGRATE_STRUCTURED = "urn:nhs:names:services:gpconnect:fhir:operation:gpc.migratestructuredrecord-1"
MIGRATE_DOCUMENT = "urn:nhs:names:services:gpconnect:documents:fhir:rest:migrate:binary-1"
RETRIEVE_DOCUMENT = "urn:nhs:names:services:gpconnect:documents:fhir:rest:read:binary-1"
TYPICAL_PERSONA = "9690937286"       # the assurance suite's main data patient
MIGRATE_LIMIT = 100 * 1024 * 1024
RETRIEVE_LIMIT = 5 * 1024 * 1024

# Response headers the baseline must not copy (gunicorn sets them itself, or they vary per request).
HOP_HEADERS = {"date", "server", "connection", "content-length", "transfer-encoding", "keep-alive"}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- requests exactly as a consumer sends them -----------------------------------------------------
def b64url(obj) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt(reason="directcare", scope="patient/*.read", ods=CONSUMER_ODS) -> str:
    """An unsigned JWT valid from now for exp - iat = 300 s: make a fresh one per scenario."""
    iat = int(time.time()) - 1
    payload = {
        "iss": "https://consumer.example", "sub": "1", "aud": "https://provider.example/B82617/STU3/1",
        "exp": iat + 300, "iat": iat, "reason_for_request": reason, "requested_scope": scope,
        "requesting_device": {"resourceType": "Device", "identifier": [{"system": "https://consumer.example/device",
                                                                      "value": "bench"}],
                              "model": "wrk", "version": "1"},
        "requesting_organization": {"resourceType": "Organization", "name": "Bench Practice",
                                    "identifier": [{"system": "https://fhir.nhs.uk/Id/ods-organization-code",
                                                    "value": ods}]},
        "requesting_practitioner": {"resourceType": "Practitioner", "id": "1",
                                    "name": [{"family": "Bench", "given": ["Load"], "prefix": ["Dr"]}],
                                    "identifier": [{"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": "UNK"},
                                                   {"system": "https://fhir.nhs.uk/Id/sds-role-profile-id",
                                                    "value": "UNK"}]},
    }
    return f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(payload)}."


@dataclass
class Case:
    """One request shape, sent identically (same path, headers, body) to product and baseline."""
    name: str
    method: str
    path: str
    interaction: str
    reason: str = "directcare"
    scope: str = "patient/*.read"
    ods: str = CONSUMER_ODS
    body: bytes | None = None
    overrides: dict = field(default_factory=dict)
    expect: int = 200

    def headers(self, trace_id: str | None = None) -> dict:
        h = {
            "Ssp-TraceID": trace_id or str(uuid.uuid4()),
            "Ssp-From": CONSUMER_ASID,
            "Ssp-To": PROVIDER_ASID,
            "Ssp-InteractionID": self.interaction,
            "Authorization": "Bearer " + jwt(self.reason, self.scope, self.ods),
            "Accept": "application/fhir+json",
            "X-Bench-Case": self.name,       # ignored by the product; picks the baseline's answer
        }
        if self.body is not None:
            h["Content-Type"] = "application/fhir+json;charset=utf-8"
        h.update(self.overrides)
        return h


def metadata_case(name="metadata", **overrides) -> Case:
    return Case(name, "GET", STRUCTURED + "/metadata", METADATA_STRUCTURED, scope="organization/*.read",
                overrides=overrides, expect=200 if not overrides else 400)


def migrate_body(nhs: str) -> bytes:
    return json.dumps({"resourceType": "Parameters", "parameter": [
        {"name": "patientNHSNumber", "valueIdentifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}},
        {"name": "includeFullRecord", "part": [{"name": "includeSensitiveInformation", "valueBoolean": False}]},
    ]}).encode()


def migrate_case(name: str, nhs: str, ods: str) -> Case:
    return Case(name, "POST", STRUCTURED + "/Patient/$gpc.migratestructuredrecord", MIGRATE_STRUCTURED,
                reason="migration", scope="patient/*.read conf/N", ods=ods, body=migrate_body(nhs))


def trace_ids(case: str, count: int) -> list[str]:
    """Fixed Ssp-TraceIDs, one per wrk thread (deterministic, so the baseline can precompute)."""
    return [str(uuid.uuid5(uuid.NAMESPACE_URL, f"mockprovider-bench/{case}/{n}")) for n in range(count)]


# --- servers ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, case: Case, trace_id=None, timeout=60.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(case.method, case.path, body=case.body, headers=case.headers(trace_id))
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


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


# --- wrk -------------------------------------------------------------------------------------------
def wrk_run(server: "Server", case: Case, connections: int, duration: int, traces: list[str],
            extra: dict | None = None) -> dict:
    threads = min(connections, 2)
    headers_file = WORK / f"{case.name}.headers"
    # A fresh JWT for every run: exp = iat + 300 s, so one token lasts one scenario, not the bench.
    headers = case.headers(traces[0])
    headers.pop("Ssp-TraceID")
    headers.update(extra or {})      # e.g. Connection: close (a new connection per request)
    headers_file.write_text("".join(f"{k}: {v}\n" for k, v in headers.items()))
    body_file = "-"
    if case.body is not None:
        (WORK / f"{case.name}.reqbody").write_bytes(case.body)
        body_file = str(WORK / f"{case.name}.reqbody")
    traces_file = WORK / f"{case.name}.traces"
    traces_file.write_text("\n".join(traces) + "\n")
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--timeout", "30s",
            "-s", str(BENCH / "wrk.lua"), f"http://127.0.0.1:{server.port}{case.path}", "--",
            case.method, str(headers_file), body_file, str(traces_file)]
    cpu_before = server.cpu_seconds()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    result = parse_wrk(out.stdout, out.stderr)
    # Server CPU per request: steadier than requests/s on a machine shared with other work.
    result["server_cpu_us"] = (server.cpu_seconds() - cpu_before) * 1e6
    return result


def parse_wrk(stdout: str, stderr: str = "") -> dict:
    for line in stdout.splitlines():
        if line.startswith("BENCHJSON "):
            data = json.loads(line[len("BENCHJSON "):])
            seconds = data["duration_us"] / 1e6
            data["rps"] = data["requests"] / seconds if seconds else 0.0
            data["errors"] = sum(v for k, v in data.items() if k.startswith("errors_"))
            return data
    raise RuntimeError(f"wrk printed no summary:\n{stdout}\n{stderr}")


def load_scenario(product: Server, baseline: Server, case: Case, connections: int) -> dict:
    """Warm both, then measure in rounds product, baseline, baseline, product (ABBA), so that a
    machine whose load drifts during the scenario penalises neither side."""
    threads = min(connections, 2)
    traces = trace_ids(case.name, threads)
    half = max(1, DURATION // 2)
    for server in (product, baseline):
        if WARMUP:
            wrk_run(server, case, connections, WARMUP, traces)
    rounds = {"product": [], "baseline": []}
    for server in (product, baseline, baseline, product):
        rounds[server.name].append(wrk_run(server, case, connections, half, traces))
    figures = {name: combine(rs) for name, rs in rounds.items()}
    p, b = figures["product"], figures["baseline"]
    if case.expect < 400 and p["errors"]:
        log(f"  note: product had {p['errors']} errors (non-2xx/3xx or socket) in {case.name}")
    return {
        "case": case.name, "connections": connections, "threads": threads, "duration_s": 2 * half,
        "product": p, "baseline": b,
        "ratio": {"rps": ratio(p["rps"], b["rps"]), "p50": ratio(p["p50_us"], b["p50_us"]),
                  "p99": ratio(p["p99_us"], b["p99_us"]),
                  "cpu_per_request": ratio(p["cpu_us_per_request"], b["cpu_us_per_request"])},
    }


def compare_scenario(servers: list, case: Case, connections: int, keepalive: bool = True) -> dict:
    """Several servers on one case, rounds in order then reversed (A B C D D C B A), each side warmed;
    ratios are the product's figures over each other side's."""
    threads = min(connections, 2)
    traces = trace_ids(case.name, threads)
    extra = None if keepalive else {"Connection": "close"}
    half = max(1, DURATION // 2)
    for server in servers:
        if WARMUP:
            wrk_run(server, case, connections, WARMUP, traces, extra)
    rounds = {server.name: [] for server in servers}
    for server in servers + servers[::-1]:
        rounds[server.name].append(wrk_run(server, case, connections, half, traces, extra))
    figures = {name: combine(rs) for name, rs in rounds.items()}
    p = figures["product"]
    return {"case": case.name, "connections": connections, "keepalive": keepalive, "duration_s": 2 * half,
            **figures,
            "ratio": {name: {"rps": ratio(p["rps"], f["rps"]), "p99": ratio(p["p99_us"], f["p99_us"]),
                             "cpu_per_request": ratio(p["cpu_us_per_request"], f["cpu_us_per_request"])}
                      for name, f in figures.items() if name != "product"}}


def slow_readers_scenario(product: Server, document: Case, probes: list, count: int = 64) -> dict:
    """``count`` clients read the document slowly (bench/slow_readers.py, its own process) while wrk
    measures each probe at one connection: the p99 a consumer sees while the downloads go on."""
    trace = trace_ids(document.name, 1)[0]
    readers = subprocess.Popen([sys.executable, str(BENCH / "slow_readers.py"), "--port", str(product.port),
                                "--path", document.path, "--headers", json.dumps(document.headers(trace)),
                                "--count", str(count)], stdout=subprocess.PIPE, text=True)
    out = {"readers": count, "document": document.path}
    try:
        readers.stdout.readline()            # started
        time.sleep(2)                        # every download under way
        for probe in probes:
            out[probe.name] = wrk_run(product, probe, 1, DURATION, trace_ids(probe.name, 1))
    finally:
        readers.send_signal(signal.SIGTERM)
        try:
            summary, _ = readers.communicate(timeout=30)
            out["reader_summary"] = json.loads(summary.strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, ValueError, IndexError):
            readers.kill()
    return out


def combine(rounds: list[dict]) -> dict:
    """Requests/s over all rounds; latency percentiles as the mean of the rounds' percentiles."""
    out = {key: sum(r[key] for r in rounds) for key in rounds[0] if key.startswith(("requests", "errors", "bytes",
                                                                                  "duration", "server_cpu"))}
    seconds = out["duration_us"] / 1e6
    out["rps"] = out["requests"] / seconds if seconds else 0.0
    out["cpu_us_per_request"] = out.get("server_cpu_us", 0.0) / out["requests"] if out["requests"] else 0.0
    for key in ("p50_us", "p90_us", "p99_us", "mean_us"):
        out[key] = statistics.fmean(r[key] for r in rounds)
    out["max_us"] = max(r["max_us"] for r in rounds)
    out["rounds"] = [{k: r[k] for k in ("requests", "duration_us", "p50_us", "p99_us")} for r in rounds]
    return out


def ratio(a, b):
    return round(a / b, 3) if b else None


# --- streaming a Binary (Python client: wrk cannot sample the worker's memory) ----------------------
def stream_once(server: Server, case: Case) -> dict:
    workers = server.workers()
    before = {}
    for pid in workers:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as fh:
                fh.write("5")                          # reset VmHWM to the current RSS
        except OSError:
            pass
        before[pid] = proc_status(pid)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    digest = hashlib.sha256()
    started = time.perf_counter()
    conn.request(case.method, case.path, headers=case.headers(trace_ids(case.name, 1)[0]))
    resp = conn.getresponse()
    total = 0
    while True:
        n = resp.readinto(buf)
        if not n:
            break
        digest.update(view[:n])
        total += n
    elapsed = time.perf_counter() - started
    conn.close()
    growth = 0
    for pid in workers:
        after = proc_status(pid)
        if pid in before and "VmHWM" in after:
            growth = max(growth, after["VmHWM"] - before[pid].get("VmRSS", after["VmHWM"]))
    return {"status": resp.status, "bytes": total, "seconds": elapsed, "mb_s": total / MB / elapsed,
            "rss_growth": growth, "sha256": digest.hexdigest()}


def stream_scenario(product: Server, baseline: Server, case: Case, reps: int) -> dict:
    runs = {"product": [], "baseline": []}
    for _ in range(reps):
        for server in (product, baseline):
            runs[server.name].append(stream_once(server, case))
    out = {"case": case.name, "reps": reps}
    for name, rs in runs.items():
        out[name] = {"mb_s": statistics.median(r["mb_s"] for r in rs), "bytes": rs[0]["bytes"],
                     "rss_growth_max": max(r["rss_growth"] for r in rs),
                     "seconds_median": statistics.median(r["seconds"] for r in rs),
                     "status": rs[0]["status"]}
    same = {r["sha256"] for r in runs["product"] + runs["baseline"]}
    out["identical_bytes"] = len(same) == 1
    out["ratio"] = {"mb_s": ratio(out["product"]["mb_s"], out["baseline"]["mb_s"])}
    return out


def download(port: int, case: Case, dest: Path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request(case.method, case.path, headers=case.headers(trace_ids(case.name, 1)[0]))
    resp = conn.getresponse()
    with open(dest, "wb") as fh:
        shutil.copyfileobj(resp, fh, 1 << 20)
    conn.close()
    return resp.status, resp.getheaders()


# --- discovery: what the product serves today --------------------------------------------------------
def persona_files(directory: Path) -> list[dict]:
    found = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if isinstance(data, dict) and "nhs_number" in data:
            ods = (data.get("pds") or {}).get("registered_practice_ods") or CONSUMER_ODS
            found.append({"nhs": data["nhs_number"], "ods": ods, "file": path.name})
    return found


def discover(port: int) -> dict:
    """Migrate every built-in persona once: which answer 200, their sizes, their documents."""
    records, documents, statuses = [], [], {}
    for p in persona_files(ROOT / "personas"):
        case = migrate_case("probe", p["nhs"], p["ods"])
        started = time.perf_counter()
        status, _, body = request(port, case)      # the first request builds the Bundle (then cached)
        first_s = time.perf_counter() - started
        statuses[p["nhs"]] = status
        if status != 200:
            continue
        records.append({**p, "bytes": len(body), "first_s": first_s})
        try:
            bundle = json.loads(body)
        except ValueError:
            continue
        records[-1]["resources"] = len(bundle.get("entry", []))
        for entry in bundle.get("entry", []):
            res = entry.get("resource", {})
            if res.get("resourceType") != "DocumentReference":
                continue
            for content in res.get("content", []):
                att = content.get("attachment", {})
                if att.get("url") and isinstance(att.get("size"), int):
                    documents.append({**p, "url": att["url"], "size": att["size"]})
    return {"records": records, "documents": documents, "statuses": statuses}


def documents_from_store() -> list[dict]:
    """Every document of the built-in personas, straight from the product's own document index
    (so Binary is measured even before migrate structured lists the documents)."""
    try:
        from mockprovider.domain.documents import index
        from mockprovider.domain.personas import PersonaStore
    except ImportError:
        return []
    store = PersonaStore.load(ROOT / "personas")
    found = []
    for binary_id, (persona, document) in sorted(index(store).by_id.items()):
        living = persona.data.get("active") is not False and not persona.data.get("deceased")
        found.append({"nhs": persona.nhs_number, "ods": persona.registered_practice_ods or CONSUMER_ODS,
                      "url": f"/{ODS}/STU3/1/gpconnect/documents/fhir/Binary/{binary_id}",
                      "size": document.size, "confidential": bool(document.confidential), "living": living})
    return found


def pick_document(documents, limit, minimum=0):
    fitting = [d for d in documents if minimum < d["size"] <= limit and not d.get("confidential")
               and d.get("living", True)]
    return max(fitting, key=lambda d: d["size"]) if fitting else None


def binary_case(name: str, doc: dict, interaction: str) -> Case:
    path = urlsplit(doc["url"]).path
    if interaction == MIGRATE_DOCUMENT:
        return Case(name, "GET", path, interaction, reason="migration", scope="patient/*.read conf/R", ods=doc["ods"])
    return Case(name, "GET", path, interaction, ods=doc["ods"])


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


# --- the run ---------------------------------------------------------------------------------------------
def cold_start(make_server, probe: Case) -> list[float]:
    times = []
    server = make_server(free_port())
    try:
        started = server.start()
        times.append(server.wait_answer(probe, started))
        memory = server.memory()
    finally:
        server.stop()
    return times, memory


def cold_starts(results: dict) -> None:
    log("cold start: mockprovider serve vs a minimal Flask app (same gunicorn settings)")
    probe = metadata_case()
    body = WORK / "flask-body.json"
    body.write_bytes(b'{"resourceType":"CapabilityStatement"}')
    product, flask = [], []
    for _ in range(COLD_RUNS):
        t, product_memory = cold_start(product_server, probe)
        product += t
        t, _ = cold_start(lambda port: flask_server(port, body), probe)
        flask += t
    p, b = statistics.median(product), statistics.median(flask)
    results["cold_start"] = {"product_s": p, "baseline_s": b, "ratio": ratio(p, b), "runs": COLD_RUNS,
                             "ratio_of_fastest": ratio(min(product), min(flask)),
                             "product_runs": product, "baseline_runs": flask, "product_memory": product_memory}


def personas_at_scale(results: dict) -> None:
    out_dir = WORK / f"personas-{PERSONA_COUNT}"
    shutil.rmtree(out_dir, ignore_errors=True)
    log(f"personas: generating {PERSONA_COUNT} with `mockprovider personas generate`")
    started = time.perf_counter()
    gen = subprocess.run([MOCKPROVIDER, "personas", "generate", "--count", str(PERSONA_COUNT), "--seed", "7",
                          "--out", str(out_dir)], capture_output=True, text=True, cwd=ROOT, timeout=600)
    generation = time.perf_counter() - started
    entry = {"count": PERSONA_COUNT}
    if gen.returncode != 0:
        entry["unavailable"] = (gen.stderr or gen.stdout).strip().splitlines()[-1:] or ["failed"]
        results["personas"] = entry
        log(f"  not available: {entry['unavailable'][0]}")
        return
    entry["generation_s"] = generation
    entry["files"] = sum(1 for _ in out_dir.glob("*.json"))
    log(f"  generated {entry['files']} files in {generation:.1f} s; cold start with them")
    times, memory = [], None
    for _ in range(3):
        t, memory = cold_start(lambda port: product_server(port, str(out_dir)), metadata_case())
        times += t
    entry["cold_start_s"] = statistics.median(times)
    entry["cold_start_runs"] = times
    entry["memory"] = memory
    results["personas"] = entry


def load_and_stream(results: dict) -> None:
    product = product_server(free_port())
    started = product.start()
    product.wait_answer(metadata_case(), started)
    baseline = None
    wiremocks: list = []
    floor = None
    try:
        manifest = Manifest()
        answers: list = []       # (case, status, headers, bodies): the very bytes WireMock serves
        load_cases: list[tuple[Case, list[int]]] = []

        # The gate: a request that fails header validation (Ssp-To is not this provider's ASID) and
        # a request that passes it (the CapabilityStatement, the smallest successful interaction).
        for case, conns in ((metadata_case("gate_bad_ssp_to", **{"Ssp-To": "200000000359"}), [1, 16]),
                            (metadata_case(), [16])):
            load_cases.append((case, conns))

        log("discovering what the product serves (migrate every built-in persona once)")
        found = discover(product.port)
        results["discovery"] = {"records": found["records"], "statuses": found["statuses"],
                                "documents": len(found["documents"])}
        if found["records"]:
            by_nhs = {r["nhs"]: r for r in found["records"]}
            typical = by_nhs.get(TYPICAL_PERSONA) or sorted(found["records"], key=lambda r: r["bytes"])[
                len(found["records"]) // 2]
            largest = max(found["records"], key=lambda r: r["bytes"])
            results["structured_personas"] = {"typical": typical, "largest": largest}
            load_cases.append((migrate_case("structured_typical", typical["nhs"], typical["ods"]), [1, 16]))
            load_cases.append((migrate_case("structured_largest", largest["nhs"], largest["ods"]), [1, 16]))
        else:
            results["structured_unavailable"] = sorted(set(found["statuses"].values()))
            log(f"  migrate structured answered {results['structured_unavailable']}: not measured")

        for case, conns in load_cases:
            traces = set()
            for c in conns:
                traces.update(trace_ids(case.name, min(c, 2)))
            bodies = {}
            for trace in sorted(traces):
                status, headers, body = request(product.port, case, trace)
                if status != case.expect:
                    raise RuntimeError(f"{case.name}: product answered {status}, expected {case.expect}: {body[:300]!r}")
                bodies[trace] = body
            manifest.add_bodies(case, status, headers, bodies)
            answers.append((case, status, headers, bodies))

        stream_cases = []
        documents = documents_from_store() or found["documents"]
        doc5 = pick_document(documents, RETRIEVE_LIMIT)
        doc100 = pick_document(documents, MIGRATE_LIMIT, RETRIEVE_LIMIT)
        for name, doc, reps in (("binary_5mb", doc5, 5), ("binary_100mb", doc100, 3)):
            if doc is None:
                results.setdefault("binary_unavailable", []).append(name)
                continue
            for interaction in ((RETRIEVE_DOCUMENT, MIGRATE_DOCUMENT) if name == "binary_5mb" else (MIGRATE_DOCUMENT,)):
                case = binary_case(name, doc, interaction)
                dest = WORK / f"{name}.body"
                log(f"  {name}: downloading {doc['size'] / MB:.1f} MB document once for the baseline")
                status, headers = download(product.port, case, dest)
                if status == 200:
                    manifest.add_file(case, status, headers, dest.name)
                    stream_cases.append((case, reps, doc))
                    break
            else:
                results.setdefault("binary_unavailable", []).append(f"{name} (answered {status})")

        manifest_path = manifest.write()
        baseline = replay_server(free_port(), manifest_path)
        started = baseline.start()
        baseline.wait_answer(metadata_case(), started)

        # The baseline answers with the product's bytes: check it before comparing them.
        for case, conns in load_cases:
            trace = trace_ids(case.name, 1)[0]
            a, b = request(product.port, case, trace), request(baseline.port, case, trace)
            if a[0] != b[0] or a[2] != b[2]:
                raise RuntimeError(f"{case.name}: baseline bytes differ from the product's")

        results["load"] = []
        for case, conns in load_cases:
            for c in conns:
                log(f"wrk: {case.name} at concurrency {c} ({WARMUP} s warm-up each, then {DURATION // 2} s rounds: "
                    "product, baseline, baseline, product)")
                results["load"].append(load_scenario(product, baseline, case, c))

        typical = next((case for case, _ in load_cases if case.name == "structured_typical"), None)
        if typical is not None and WIREMOCK.exists():
            root = write_wiremock_root(answers)
            for journal in (True, False):
                server = wiremock_server(free_port(), root, journal)
                started = server.start()
                wiremocks.append(server)
                server.wait_answer(typical, started, timeout=120)
            # The essential floor (bench/floor.py) served beside them: how near 0.8x of the
            # baseline any app doing a valid migrate's required steps can come on this stack.
            floor = floor_server(free_port(), manifest_path)
            floor.wait_answer(typical, floor.start())
            trace = trace_ids(typical.name, 1)[0]
            for server in [floor, *wiremocks]:
                if request(server.port, typical, trace)[2] != request(product.port, typical, trace)[2]:
                    raise RuntimeError(f"{server.name}: bytes differ from the product's")
            results["wiremock"] = []
            for keepalive in (True, False):
                log(f"wrk: {typical.name} at concurrency 16, keep-alive {'on' if keepalive else 'off'}: product, "
                    "essential floor, baseline, WireMock, WireMock --no-request-journal (and back)")
                results["wiremock"].append(compare_scenario([product, floor, baseline, *wiremocks], typical, 16,
                                                            keepalive))
            for server in wiremocks:
                results.setdefault("wiremock_memory", {})[server.name] = server.memory()
                server.stop()
            wiremocks = []
            floor.stop()
        elif typical is not None:
            results["wiremock_unavailable"] = f"{WIREMOCK} missing: make bench runs npm ci in bench/"

        results["stream"] = []
        for case, reps, doc in stream_cases:
            log(f"stream: {case.name} ({doc['size'] / MB:.1f} MB document, {reps} runs each)")
            entry = stream_scenario(product, baseline, case, reps)
            entry.update(document_bytes=doc["size"], interaction=case.interaction)
            results["stream"].append(entry)

        big = next((case for case, _, _ in stream_cases if case.name == "binary_100mb"), None)
        if big is not None and typical is not None:
            health = Case("health", "GET", "/_control/health", "")
            log("slow readers: 64 clients read the 100 MB document slowly; wrk measures health and migrate "
                "structured meanwhile")
            results["slow_readers"] = slow_readers_scenario(product, big, [health, typical])
        results["product_memory_after_load"] = product.memory()
    finally:
        product.stop()
        if baseline is not None:
            baseline.stop()
        if floor is not None:
            floor.stop()
        for server in wiremocks:
            server.stop()


# --- targets and the table ---------------------------------------------------------------------------------
def find_load(results, case, conns):
    for entry in results.get("load", []):
        if entry["case"] == case and entry["connections"] == conns:
            return entry
    return None


def targets(results: dict) -> list[dict]:
    out = []

    def add(name, value, limit, ok, unit="", missing=None):
        if value is None:
            out.append({"target": name, "status": "N/A", "value": None, "limit": limit,
                        "note": missing or "not measured"})
        else:
            out.append({"target": name, "status": "PASS" if ok(value) else "MISS", "value": value,
                        "limit": limit, "unit": unit})

    why_structured = "migrate structured answers " + str(results.get("structured_unavailable", "?"))
    for which in ("largest", "typical"):
        e = find_load(results, f"structured_{which}", 16)
        add(f"structured {which} c16: throughput >= 0.8 x baseline", e and e["ratio"]["rps"], 0.8,
            lambda v: v >= 0.8, "x", why_structured)
        add(f"structured {which} c16: p99 <= 2 x baseline p99", e and e["ratio"]["p99"], 2.0,
            lambda v: v <= 2.0, "x", why_structured)
    why_wm = results.get("wiremock_unavailable", "not measured")
    for e in results.get("wiremock", []) or [None, None]:
        mode = "keep-alive" if e is None or e["keepalive"] else "no keep-alive"
        for name in ("wiremock", "wiremock_no_journal"):
            value = e and e["ratio"].get(name, {}).get("rps")
            add(f"structured typical c16 ({mode}): >= 1.5 x {name}", value, 1.5, lambda v: v >= 1.5, "x", why_wm)
        value = e and e["ratio"].get("baseline", {}).get("rps")
        add(f"structured typical c16 ({mode}): >= 0.8 x baseline", value, 0.8, lambda v: v >= 0.8, "x", why_wm)
    g = find_load(results, "gate_bad_ssp_to", 1)
    add("gate + control state: extra CPU <= 120 us/request",
        g and round(g["product"]["cpu_us_per_request"] - g["baseline"]["cpu_us_per_request"], 1), 120,
        lambda v: v <= 120, "us")
    sr = results.get("slow_readers")
    for probe in ("health", "structured_typical"):
        value = sr and probe in sr and round(sr[probe]["p99_us"] / 1000, 1)
        add(f"64 slow readers of 100 MB: {probe} p99 <= 100 ms", value or None, 100, lambda v: v <= 100, "ms",
            "no 100 MB document or no migrate structured")
    s100 = next((s for s in results.get("stream", []) if s["case"] == "binary_100mb"), None)
    why_binary = "no document of 5-100 MiB reachable yet"
    add("binary 100 MB: MB/s >= 0.9 x baseline", s100 and s100["ratio"]["mb_s"], 0.9, lambda v: v >= 0.9, "x",
        why_binary)
    add("binary 100 MB: worker peak RSS growth <= 32 MB",
        s100 and round(s100["product"]["rss_growth_max"] / MB, 1), 32, lambda v: v <= 32, "MB", why_binary)
    cs = results.get("cold_start")
    add("cold start <= 1.5 x minimal Flask app", cs and cs["ratio"], 1.5, lambda v: v <= 1.5, "x")
    pe = results.get("personas", {})
    why_personas = "; ".join(pe.get("unavailable", [])) or "not measured"
    add(f"{PERSONA_COUNT} personas: generation <= 60 s", pe.get("generation_s") and round(pe["generation_s"], 1),
        60, lambda v: v <= 60, "s", why_personas)
    add(f"{PERSONA_COUNT} personas: cold start <= 2 s", pe.get("cold_start_s") and round(pe["cold_start_s"], 2),
        2, lambda v: v <= 2, "s", why_personas)
    mem = pe.get("memory")
    add(f"{PERSONA_COUNT} personas: RSS <= 300 MB (largest process)", mem and round(mem["rss_max"] / MB, 1),
        300, lambda v: v <= 300, "MB", why_personas)
    return out


def fmt(value, unit=""):
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:,.0f}" if value >= 1000 else f"{value:.3g}" if value < 10 else f"{value:.1f}"
    else:
        text = f"{value:,}"
    return text + unit


def table(results: dict) -> str:
    rows = [("Scenario", "Metric", "Product", "Baseline", "Ratio")]
    labels = {"gate_bad_ssp_to": "gate: bad Ssp-To (400)", "metadata": "metadata (full gate, 200)",
              "structured_typical": "migrate structured, typical", "structured_largest": "migrate structured, largest"}
    who = results.get("structured_personas", {})
    for which in ("typical", "largest"):
        if which in who:
            labels[f"structured_{which}"] += f" ({who[which]['nhs']}, {who[which]['bytes'] / 1000:,.0f} kB)"
    for e in results.get("load", []):
        name = f"{labels.get(e['case'], e['case'])} c{e['connections']}"
        p, b, r = e["product"], e["baseline"], e["ratio"]
        rows.append((name, "requests/s", fmt(p["rps"]), fmt(b["rps"]), fmt(r["rps"], "x")))
        rows.append(("", "p50 ms", fmt(p["p50_us"] / 1000), fmt(b["p50_us"] / 1000), fmt(r["p50"], "x")))
        rows.append(("", "p99 ms", fmt(p["p99_us"] / 1000), fmt(b["p99_us"] / 1000), fmt(r["p99"], "x")))
        if r.get("cpu_per_request"):
            rows.append(("", "server CPU us/request", fmt(p["cpu_us_per_request"]), fmt(b["cpu_us_per_request"]),
                         fmt(r["cpu_per_request"], "x")))
        if e["case"] == "gate_bad_ssp_to" and e["connections"] == 1:
            rows.append(("", "gate + control state: extra CPU us/request",
                         fmt(p["cpu_us_per_request"] - b["cpu_us_per_request"]), "", ""))
            rows.append(("", "gate + control state: extra p50 us", fmt(p["p50_us"] - b["p50_us"]), "", ""))
    for e in results.get("wiremock", []):
        name = f"migrate structured, typical c16, keep-alive {'on' if e['keepalive'] else 'off'}"
        for side in ("wiremock", "wiremock_no_journal"):
            if side not in e:
                continue
            label = "WireMock" if side == "wiremock" else "WireMock --no-request-journal"
            rows.append((name, f"requests/s vs {label}", fmt(e["product"]["rps"]), fmt(e[side]["rps"]),
                         fmt(e["ratio"][side]["rps"], "x")))
            rows.append(("", f"p99 ms vs {label}", fmt(e["product"]["p99_us"] / 1000), fmt(e[side]["p99_us"] / 1000),
                         fmt(e["ratio"][side]["p99"], "x")))
            name = ""
        rows.append(("", "requests/s vs baseline", fmt(e["product"]["rps"]), fmt(e["baseline"]["rps"]),
                     fmt(e["ratio"]["baseline"]["rps"], "x")))
        if "floor" in e:
            # bench/floor.py served: the essential steps only (the Product column is the floor here).
            rows.append(("", "requests/s vs essential floor", fmt(e["product"]["rps"]), fmt(e["floor"]["rps"]),
                         fmt(e["ratio"]["floor"]["rps"], "x")))
            rows.append(("", "essential floor: requests/s vs baseline", fmt(e["floor"]["rps"]),
                         fmt(e["baseline"]["rps"]), fmt(ratio(e["floor"]["rps"], e["baseline"]["rps"]), "x")))
    sr = results.get("slow_readers")
    if sr:
        for probe in ("health", "structured_typical"):
            if probe in sr:
                rows.append((f"while 64 clients read 100 MB slowly: {probe} c1", "p50 / p99 ms",
                             f"{fmt(sr[probe]['p50_us'] / 1000)} / {fmt(sr[probe]['p99_us'] / 1000)}", "", ""))
    for s in results.get("stream", []):
        name = (f"Binary {s['document_bytes'] / 2 ** 20:.1f} MiB "
                f"({'migrate' if 'migrate' in s['interaction'] else 'retrieve'})")
        rows.append((name, "MB/s (wire)", fmt(s["product"]["mb_s"]), fmt(s["baseline"]["mb_s"]),
                     fmt(s["ratio"]["mb_s"], "x")))
        rows.append(("", "peak RSS growth MB", fmt(s["product"]["rss_growth_max"] / MB),
                     fmt(s["baseline"]["rss_growth_max"] / MB), ""))
    largest = who.get("largest")
    if largest and "first_s" in largest:
        # The heaviest persona (a supplier-shaped long-term record): what its first request costs.
        rows.append((f"migrate structured, largest ({largest['nhs']})", "Bundle MB / resources",
                     f"{largest['bytes'] / MB:.2f} / {largest.get('resources', 0):,}", "", ""))
        rows.append(("", "first request (build) s", fmt(largest["first_s"]), "", ""))
        after = results.get("product_memory_after_load") or {}
        if after.get("rss_max"):
            rows.append(("", "worker RSS MB after load (largest process)", fmt(after["rss_max"] / MB), "", ""))
    cs = results.get("cold_start")
    if cs:
        rows.append((f"cold start, median of {cs.get('runs', 1)} (minimal Flask app)", "seconds", fmt(cs["product_s"]),
                     fmt(cs["baseline_s"]), fmt(cs["ratio"], "x")))
    pe = results.get("personas", {})
    if "generation_s" in pe:
        rows.append((f"{pe['count']} generated personas", "generation s", fmt(pe["generation_s"]), "", ""))
        rows.append(("", f"cold start s (median of {len(pe['cold_start_runs'])})", fmt(pe["cold_start_s"]), "", ""))
        rows.append(("", "RSS MB largest process", fmt(pe["memory"]["rss_max"] / MB), "", ""))
        rows.append(("", "PSS MB all processes", fmt(pe["memory"]["pss_total"] / MB), "", ""))
    rows += _stores().rows(results, fmt)
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for n, r in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(r)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) if i < 2 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|")
    lines.append("")
    lines.append("Ratio = product / baseline: for requests/s and MB/s higher is better, for ms, CPU and "
                 "seconds lower is better.")
    lines.append("")
    for t in results["targets"]:
        if t["status"] == "N/A":
            lines.append(f"- N/A  {t['target']} ({t['note']})")
        else:
            lines.append(f"- {t['status']} {t['target']}: {fmt(t['value'])}{t.get('unit', '')}")
    return "\n".join(lines)


def _stores():
    """bench/stores.py: migrate structured with the Redis control store beside SQLite."""
    sys.path.insert(0, str(BENCH))
    import stores
    return stores


def main() -> int:
    if shutil.which("wrk") is None:
        print("wrk is not installed (make bench installs it with apt-get)", file=sys.stderr)
        return 2
    WORK.mkdir(parents=True, exist_ok=True)
    # Bytecode as an installed package has it (pip compiles at install; an editable install in an
    # environment with PYTHONDONTWRITEBYTECODE would otherwise recompile every module per start).
    compileall.compile_dir(str(ROOT / "mockprovider"), quiet=1)
    begun = time.perf_counter()
    results: dict = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "git_commit": git_commit(),
                     "machine": machine(),
                     "method": {"duration_s": DURATION, "warmup_s": WARMUP, "workers": WORKERS,
                                "trace_id": "fixed per wrk thread (a UUID each), a fresh JWT per run",
                                "baseline": "bench/baseline.py replaying the product's bytes under the same "
                                            "gunicorn settings; Binary streamed from disk in 1 MiB chunks",
                                "megabyte": "10^6 bytes",
                                "bytecode": "mockprovider/ compiled before the run, as an installed package is"}}
    try:
        load_and_stream(results)
        _stores().compare(results, sys.modules[__name__])
        cold_starts(results)
        personas_at_scale(results)
    finally:
        for leftover in [*WORK.glob("state-*"), *WORK.glob("binary_*.body"), WORK / "floor-journal.jsonl",
                         WORK / f"personas-{PERSONA_COUNT}"]:
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)
        results["elapsed_s"] = round(time.perf_counter() - begun, 1)
        results["targets"] = targets(results)
        RESULTS.write_text(json.dumps(results, indent=1, default=str) + "\n")
    m = results["machine"]
    print(f"\nmockprovider bench — {results['date']}, commit {results['git_commit'][:12]}, "
          f"{m['nproc']} x {m['cpu_model']}, {m['memory_gb']} GB, Python {m['python']}, "
          f"{WORKERS} gunicorn gthread workers, {m['wrk']}, {DURATION} s per wrk run\n")
    print(table(results))
    print(f"\nfull figures: {RESULTS.relative_to(ROOT)} (run took {results['elapsed_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
