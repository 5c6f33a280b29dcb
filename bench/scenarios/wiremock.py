"""WireMock side by side: WireMock 3.x standalone (the npm ``wiremock`` package pinned in
``bench/package.json``, its jar on the machine's Java), with and without its request journal,
given one stub per case and trace id whose body is the very bytes the product returned; and the
essential floor (``bench/floor.py serve``) beside them. Migrate structured, typical persona, 16
connections, with keep-alive and again with ``Connection: close``, rounds product, floor,
baseline, WireMock, WireMock ``--no-request-journal``, then back. Writes ``results["wiremock"]``
and ``results["wiremock_memory"]`` (or ``results["wiremock_unavailable"]``)."""
from __future__ import annotations

from bench.cases import request, trace_ids
from bench.harness import WIREMOCK, floor_server, free_port, log, wiremock_server, write_wiremock_root
from bench.measure import compare_scenario


def run(bed, results: dict) -> None:
    typical = bed.case("structured_typical")
    if typical is None:
        return
    if not WIREMOCK.exists():
        results["wiremock_unavailable"] = f"{WIREMOCK} missing: make bench runs npm ci in bench/"
        return
    product, wiremocks, floor = bed.product, [], None
    try:
        root = write_wiremock_root(bed.answers)
        for journal in (True, False):
            server = wiremock_server(free_port(), root, journal)
            started = server.start()
            wiremocks.append(server)
            server.wait_answer(typical, started, timeout=120)
        # The essential floor (bench/floor.py) served beside them: how near 0.8x of the
        # baseline any app doing a valid migrate's required steps can come on this stack.
        floor = floor_server(free_port(), bed.manifest_path)
        floor.wait_answer(typical, floor.start())
        trace = trace_ids(typical.name, 1)[0]
        for server in [floor, *wiremocks]:
            if request(server.port, typical, trace)[2] != request(product.port, typical, trace)[2]:
                raise RuntimeError(f"{server.name}: bytes differ from the product's")
        results["wiremock"] = []
        for keepalive in (True, False):
            log(f"wrk: {typical.name} at concurrency 16, keep-alive {'on' if keepalive else 'off'}: product, "
                "essential floor, baseline, WireMock, WireMock --no-request-journal (and back)")
            results["wiremock"].append(compare_scenario([product, floor, bed.baseline, *wiremocks], typical, 16,
                                                        keepalive))
        for server in wiremocks:
            results.setdefault("wiremock_memory", {})[server.name] = server.memory()
    finally:
        for server in wiremocks:
            server.stop()
        if floor is not None:
            floor.stop()
