"""Personas at scale: ``mockprovider personas generate --count 10000`` (``BENCH_PERSONAS``), then cold
start (median of 3) and memory with those personas loaded. Writes ``results["personas"]``."""
from __future__ import annotations

import shutil
import statistics
import subprocess
import time

from bench.cases import metadata_case
from bench.harness import MOCKPROVIDER, PERSONA_COUNT, ROOT, WORK, cold_start, log, product_server


def run(results: dict) -> None:
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
