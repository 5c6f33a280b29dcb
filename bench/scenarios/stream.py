"""Streaming a Binary: the largest retrievable document (up to 5 MiB, retrieve) and the largest
migratable one (5-100 MiB, migrate), read whole by a Python client while the worker's peak RSS is
sampled (``VmHWM`` reset through ``/proc/<pid>/clear_refs``); product and baseline alternate.
Writes ``results["stream"]``."""
from __future__ import annotations

from bench.harness import MB, log
from bench.measure import stream_scenario


def run(bed, results: dict) -> None:
    results["stream"] = []
    for case, reps, doc in bed.stream_cases:
        log(f"stream: {case.name} ({doc['size'] / MB:.1f} MB document, {reps} runs each)")
        entry = stream_scenario(bed.product, bed.baseline, case, reps)
        entry.update(document_bytes=doc["size"], interaction=case.interaction)
        results["stream"].append(entry)
