"""Cold start: process start to the first answered FHIR request (the structured CapabilityStatement),
median of ``BENCH_COLD_RUNS`` (5), ``mockprovider serve`` against a minimal Flask app run through
the same gunicorn settings (``bench/baseline.py flask``). Writes ``results["cold_start"]``."""
from __future__ import annotations

import statistics

from bench.cases import metadata_case
from bench.harness import COLD_RUNS, WORK, cold_start, flask_server, log, product_server, ratio


def run(results: dict) -> None:
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
