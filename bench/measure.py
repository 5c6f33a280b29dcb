"""How ``make bench`` measures: wrk runs and their figures, rounds of product against the others,
and streaming a Binary with a Python client (wrk cannot sample the worker's memory).

Every wrk run carries a fresh JWT (exp = iat + 300 s, so one token lasts one run) and the fixed
trace ids of its case. Server CPU per request (master and workers, from ``/proc``) is recorded
beside requests/s: it is steadier on a machine shared with other work.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from bench.cases import Case, trace_ids
from bench.harness import BENCH, DURATION, MB, WARMUP, WORK, Server, log, proc_status, ratio


# --- wrk -------------------------------------------------------------------------------------------
def wrk_run(server: Server, case: Case, connections: int, duration: int, traces: list[str],
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
