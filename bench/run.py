#!/usr/bin/env python3
"""``make bench``: the product against the stack's own ceiling, side by side, in one run.

Every load figure is measured twice under identical gunicorn settings (``BENCH_WORKERS`` threaded
workers, loopback): once against ``mockprovider serve`` and once against a baseline that answers
with the very bytes the product returned, precomputed (``bench/baseline.py``). Figures are
reported as product, baseline and product/baseline, so a noisy machine still gives comparable
results. Load comes from wrk (``bench/wrk.lua``); a Python client is used only where wrk cannot do
the job: cold start and streaming a Binary while sampling the worker's peak RSS.

This runner only runs the scenarios (``bench/scenarios/``, in the order below), writes
``bench/results.json`` and prints the table with PASS/MISS per target (``bench/report.py``).
Never part of ``make test`` (timings are not assertions); ``tests/unit/test_bench_harness.py``
checks that the pieces parse and fit together.
"""
from __future__ import annotations

import compileall
import json
import shutil
import sys
import time
from pathlib import Path

if __package__ in (None, ""):      # python bench/run.py: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bed import Bed  # noqa: E402
from bench.harness import (DURATION, PERSONA_COUNT, RESULTS, ROOT, WARMUP, WORK, WORKERS, git_commit,  # noqa: E402
                           machine)
from bench.report import table, targets  # noqa: E402
from bench.scenarios import cold_start, load, personas, slow_readers, stores, stream, wiremock  # noqa: E402

# Scenarios served on the bed (product + same-bytes baseline), then those with servers of their own.
ON_THE_BED = (load, wiremock, stream, slow_readers)
ON_THEIR_OWN = (stores, cold_start, personas)


def run_scenarios(results: dict) -> None:
    bed = Bed()
    try:
        bed.set_up(results)
        for scenario in ON_THE_BED:
            scenario.run(bed, results)
        results["product_memory_after_load"] = bed.product.memory()
    finally:
        bed.stop()
    for scenario in ON_THEIR_OWN:
        scenario.run(results)


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
        run_scenarios(results)
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
