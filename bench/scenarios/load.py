"""Load: every load case of the bed (the gate refusing a bad ``Ssp-To``, the CapabilityStatement,
migrate structured for the typical and the largest persona) at each of its concurrencies, in
rounds product, baseline, baseline, product. Writes ``results["load"]``."""
from __future__ import annotations

from bench.harness import DURATION, WARMUP, log
from bench.measure import load_scenario


def run(bed, results: dict) -> None:
    results["load"] = []
    for case, conns in bed.load_cases:
        for c in conns:
            log(f"wrk: {case.name} at concurrency {c} ({WARMUP} s warm-up each, then {DURATION // 2} s rounds: "
                "product, baseline, baseline, product)")
            results["load"].append(load_scenario(bed.product, bed.baseline, case, c))
