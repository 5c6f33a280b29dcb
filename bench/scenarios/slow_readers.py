"""Slow readers: 64 clients (``bench/slow_readers.py``, its own process) download the 100 MiB
document at 16 KiB every 50 ms each while wrk measures ``/_control/health`` and migrate structured
at one connection: their p50 and p99 are what a consumer sees while the downloads go on. Writes
``results["slow_readers"]``."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from bench.cases import Case, trace_ids
from bench.harness import BENCH, DURATION, Server, log
from bench.measure import wrk_run


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


def run(bed, results: dict) -> None:
    big, typical = bed.stream_case("binary_100mb"), bed.case("structured_typical")
    if big is None or typical is None:
        return
    health = Case("health", "GET", "/_control/health", "")
    log("slow readers: 64 clients read the 100 MB document slowly; wrk measures health and migrate "
        "structured meanwhile")
    results["slow_readers"] = slow_readers_scenario(bed.product, big, [health, typical])
