"""Stores: migrate structured with the control state on Redis beside SQLite, in one run.

Two ``mockprovider serve`` (same gunicorn settings, same persona, same request): one on the default
SQLite store, one with ``MOCKPROVIDER_STATE_URL`` on a redis-server this run starts (loopback,
append-only file as docker-compose.yml runs it). wrk rounds alternate SQLite, Redis, Redis, SQLite.
Also the per-request cost of the store itself, in process: reading the control state
(``current()``) and writing the journal row (``record()``), the two calls every request makes.

``run(results)`` (after the served scenarios: it needs the typical persona they found) writes
``results["stores"]``; ``rows`` gives the table its lines. ``python bench/scenarios/stores.py``
prints only the in-process figures.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):      # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.cases import metadata_case, migrate_case, trace_ids  # noqa: E402
from bench.harness import DURATION, WARMUP, WORK, free_port, log, product_server  # noqa: E402
from bench.measure import combine, wrk_run  # noqa: E402

ROUNDS = ("sqlite", "redis", "redis", "sqlite")
MICRO_CALLS = 20000


def start_redis(folder: Path):
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder),
                             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                             "--loglevel", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    import redis
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return proc, f"redis://127.0.0.1:{port}/0"
        except redis.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


def micro(url: str, work: Path) -> dict:
    """Microseconds per call of current() and record() on each store, best of 5 batches."""
    from mockprovider.config import Settings
    from mockprovider.state.control import SqliteControlStore
    from mockprovider.state.control_redis import RedisControlStore

    defaults = Settings().runtime_defaults()
    entry = {"time": "2026-12-02T15:00:00.000Z", "method": "POST", "status": 200, "ms": 1.5, "worker": 1,
             "path": "/B82617/STU3/1/gpconnect/structured/fhir/Patient/$gpc.migratestructuredrecord",
             "interaction": "migrate_structured", "trace_id": "0b0e5d2e-2f86-4c59-9a3c-6c3c8a0b1f11",
             "consumer_asid": "200000000359", "findings": []}
    stores = {"sqlite": SqliteControlStore(defaults, tempfile.mkdtemp(prefix="state-", dir=work)),
              "redis": RedisControlStore(defaults, url)}
    out = {}
    for name, store in stores.items():
        figures = {}
        for call, fn in (("current_us", store.current), ("record_us", lambda: store.record(dict(entry)))):
            fn()
            best = []
            for _ in range(5):
                started = time.perf_counter()
                for _ in range(MICRO_CALLS // 5):
                    fn()
                best.append((time.perf_counter() - started) / (MICRO_CALLS // 5) * 1e6)
            figures[call] = min(best)
        out[name] = figures
    stores["redis"].close()
    return out


def run(results: dict) -> None:
    typical = results.get("structured_personas", {}).get("typical")
    if typical is None:
        results["stores"] = {"unavailable": "migrate structured not measured"}
        return
    log("stores: migrate structured on SQLite vs Redis (MOCKPROVIDER_STATE_URL)")
    proc, url = start_redis(WORK / "redis")
    servers = {}
    try:
        results["stores"] = {"micro": micro(url, WORK), "load": []}
        for name in ("sqlite", "redis"):
            server = product_server(free_port())
            server.name = f"product-{name}"
            if name == "redis":
                server.env["MOCKPROVIDER_STATE_URL"] = url
            servers[name] = server
            server.wait_answer(metadata_case(), server.start())
        case = migrate_case("structured_typical", typical["nhs"], typical["ods"])
        for connections in (1, 16):
            traces = trace_ids(case.name, min(connections, 2))
            half = max(1, DURATION // 2)
            for server in servers.values():
                if WARMUP:
                    wrk_run(server, case, connections, WARMUP, traces)
            rounds = {"sqlite": [], "redis": []}
            for name in ROUNDS:
                rounds[name].append(wrk_run(servers[name], case, connections, half, traces))
            figures = {name: combine(rs) for name, rs in rounds.items()}
            results["stores"]["load"].append({"case": case.name, "connections": connections, **figures})
    finally:
        for server in servers.values():
            server.stop()
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(WORK / "redis", ignore_errors=True)


def rows(results: dict, fmt) -> list[tuple]:
    """Table rows: Product column = the Redis store, Baseline column = the SQLite store."""
    stores = results.get("stores") or {}
    out = []
    for e in stores.get("load", []):
        r, s = e["redis"], e["sqlite"]
        name = f"migrate structured c{e['connections']}: Redis store vs SQLite store"
        out.append((name, "requests/s", fmt(r["rps"]), fmt(s["rps"]), fmt(_ratio(r["rps"], s["rps"]), "x")))
        out.append(("", "p50 ms", fmt(r["p50_us"] / 1000), fmt(s["p50_us"] / 1000),
                    fmt(_ratio(r["p50_us"], s["p50_us"]), "x")))
        out.append(("", "p99 ms", fmt(r["p99_us"] / 1000), fmt(s["p99_us"] / 1000),
                    fmt(_ratio(r["p99_us"], s["p99_us"]), "x")))
        out.append(("", "server CPU us/request", fmt(r["cpu_us_per_request"]), fmt(s["cpu_us_per_request"]),
                    fmt(_ratio(r["cpu_us_per_request"], s["cpu_us_per_request"]), "x")))
    micro_ = stores.get("micro")
    if micro_:
        for call, label in (("current_us", "read control state us/call"), ("record_us", "journal row us/call")):
            out.append(("store per request (in process): Redis vs SQLite" if call == "current_us" else "", label,
                        fmt(micro_["redis"][call]), fmt(micro_["sqlite"][call]),
                        fmt(_ratio(micro_["redis"][call], micro_["sqlite"][call]), "x")))
    return out


def _ratio(a, b):
    return round(a / b, 3) if b else None


if __name__ == "__main__":      # python bench/scenarios/stores.py: only the in-process figures
    WORK.mkdir(parents=True, exist_ok=True)
    proc, url = start_redis(WORK / "redis")
    try:
        print(json.dumps(micro(url, WORK), indent=1))
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(WORK / "redis", ignore_errors=True)
