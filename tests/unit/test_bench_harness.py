"""Smoke test of `make bench`'s pieces (no timing, no server, no wrk): they import, parse and fit.

The benchmark itself runs only through `make bench`; timing assertions never belong in the suite.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from werkzeug.datastructures import Headers

from mockprovider.config import Settings
from mockprovider.http import gate

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


from bench import cases, measure, report  # noqa: E402  (the pieces bench/run.py runs)

baseline = _load("baseline")


def _gate(case, trace):
    settings = Settings()
    return gate.check_request(path=case.path, method=case.method, headers=Headers(case.headers(trace)),
                              query_format=None, body_length=len(case.body) if case.body else None,
                              settings=settings, flags=settings.runtime_defaults())


def test_bench_requests_pass_the_real_gate():
    trace = cases.trace_ids("metadata", 2)[1]
    passed = _gate(cases.metadata_case(), trace)
    assert passed.interaction.name == "metadata_structured" and passed.trace_id == trace
    passed = _gate(cases.migrate_case("structured_typical", "9690937286", "GPCA0001"), trace)
    assert passed.interaction.name == "migrate_structured"
    assert passed.claims.reason == "migration" and passed.claims.confidentiality == "N"


def test_gate_case_fails_header_validation():
    import pytest
    from mockprovider.errors import SpineError
    with pytest.raises(SpineError) as err:
        _gate(cases.metadata_case("gate_bad_ssp_to", **{"Ssp-To": "200000000359"}), cases.trace_ids("g", 1)[0])
    assert err.value.code == "BAD_REQUEST"


def test_wrk_summary_line_parses_and_rounds_combine():
    line = ('BENCHJSON {"requests":100,"duration_us":2000000,"bytes":5000,"errors_connect":0,"errors_read":0,'
            '"errors_write":0,"errors_status":3,"errors_timeout":0,"p50_us":900,"p90_us":1500,"p99_us":3000,'
            '"max_us":4000,"mean_us":1000.5}')
    parsed = measure.parse_wrk("Running 2s test\n" + line + "\n")
    assert parsed["rps"] == 50 and parsed["errors"] == 3
    combined = measure.combine([parsed, dict(parsed, requests=300, p99_us=5000)])
    assert combined["requests"] == 400 and combined["rps"] == 100 and combined["p99_us"] == 4000


def test_wrk_script_reads_its_arguments_and_prints_the_summary():
    lua = (BENCH / "wrk.lua").read_text()
    for needle in ("function init(args)", "function request()", "function done(", "BENCHJSON", "Ssp-TraceID"):
        assert needle in lua


def test_replay_baseline_answers_the_recorded_bytes(tmp_path):
    (tmp_path / "a-0.body").write_bytes(b'{"id":"one"}')
    (tmp_path / "a-1.body").write_bytes(b'{"id":"two"}')
    (tmp_path / "big.body").write_bytes(b"x" * 200_000)
    manifest = {"cases": {
        "a": {"status": "200 OK", "headers": [["Content-Type", "application/fhir+json;charset=utf-8"]],
              "bodies": {"t1": "a-0.body", "t2": "a-1.body"}},
        "big": {"status": "200 OK", "headers": [], "file": "big.body", "chunk": 65536},
    }}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    app = baseline.replay_app(baseline.load_manifest(str(tmp_path / "manifest.json")))
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    assert b"".join(app({"HTTP_X_BENCH_CASE": "a", "HTTP_SSP_TRACEID": "t2"}, start_response)) == b'{"id":"two"}'
    assert seen["status"] == "200 OK" and seen["headers"]["Content-Length"] == "12"
    chunks = list(app({"HTTP_X_BENCH_CASE": "big"}, start_response))
    assert b"".join(chunks) == b"x" * 200_000 and max(map(len, chunks)) == 65536
    assert seen["headers"]["Content-Length"] == "200000"
    app({"HTTP_X_BENCH_CASE": "nope"}, start_response)
    assert seen["status"].startswith("404")


def test_targets_and_table_report_pass_miss_and_not_measured():
    results = {
        "load": [{"case": "structured_largest", "connections": 16,
                  "product": {"rps": 90.0, "p50_us": 1000, "p99_us": 5000},
                  "baseline": {"rps": 100.0, "p50_us": 900, "p99_us": 2000},
                  "ratio": {"rps": 0.9, "p50": 1.111, "p99": 2.5}}],
        "cold_start": {"product_s": 0.4, "baseline_s": 0.3, "ratio": 1.333},
        "personas": {"count": 10000, "unavailable": ["No such command"]},
    }
    results["targets"] = report.targets(results)
    status = {t["target"]: t["status"] for t in results["targets"]}
    assert status["structured largest c16: throughput >= 0.8 x baseline"] == "PASS"
    assert status["structured largest c16: p99 <= 2 x baseline p99"] == "MISS"
    assert status["cold start <= 1.5 x minimal Flask app"] == "PASS"
    assert status["binary 100 MB: MB/s >= 0.9 x baseline"] == "N/A"
    assert status["structured typical c16 (keep-alive): >= 1.5 x wiremock"] == "N/A"
    assert status["64 slow readers of 100 MB: health p99 <= 100 ms"] == "N/A"
    results["wiremock"] = [{"case": "structured_typical", "connections": 16, "keepalive": keep,
                            "product": {"rps": 300.0, "p99_us": 9000}, "baseline": {"rps": 330.0, "p99_us": 8000},
                            "wiremock": {"rps": 150.0, "p99_us": 30000},
                            "wiremock_no_journal": {"rps": 250.0, "p99_us": 20000},
                            "floor": {"rps": 310.0, "p99_us": 8500},
                            "ratio": {"baseline": {"rps": 0.909, "p99": 1.125}, "wiremock": {"rps": 2.0, "p99": 0.3},
                                      "wiremock_no_journal": {"rps": 1.2, "p99": 0.45},
                                      "floor": {"rps": 0.968, "p99": 1.059}}} for keep in (True, False)]
    results["slow_readers"] = {"health": {"p50_us": 900, "p99_us": 4000},
                               "structured_typical": {"p50_us": 9000, "p99_us": 150000}}
    results["targets"] = report.targets(results)
    status = {t["target"]: t["status"] for t in results["targets"]}
    assert status["structured typical c16 (no keep-alive): >= 1.5 x wiremock"] == "PASS"
    assert status["structured typical c16 (keep-alive): >= 1.5 x wiremock_no_journal"] == "MISS"
    assert status["structured typical c16 (keep-alive): >= 0.8 x baseline"] == "PASS"
    assert status["64 slow readers of 100 MB: health p99 <= 100 ms"] == "PASS"
    assert status["64 slow readers of 100 MB: structured_typical p99 <= 100 ms"] == "MISS"
    text = report.table(results)
    assert "WireMock --no-request-journal" in text and "while 64 clients read 100 MB slowly" in text
    assert "migrate structured, largest c16" in text and "MISS" in text and "N/A" in text
    floor_rows = [line for line in text.splitlines() if "essential floor" in line]
    assert len(floor_rows) == 4          # vs the floor, and the floor vs the baseline, per keep-alive mode
    assert "0.968x" in floor_rows[0] and "0.939x" in floor_rows[1]      # 310 / 330 requests/s


def test_floor_takes_the_bench_request_and_refuses_others(tmp_path):
    """bench/floor.py's essential steps run on the very request make bench sends, and refuse it
    once a header or the JWT is wrong (a floor that accepted anything would measure nothing)."""
    floor_module = _load("floor")
    case = cases.migrate_case("floor", cases.TYPICAL_PERSONA, cases.CONSUMER_ODS)
    log_lines = []

    class Log:
        write = log_lines.append

        def flush(self):
            pass

    floor = floor_module.Floor(str(tmp_path / "journal.jsonl"), Log(), body_size=10)
    body = floor(floor_module.environ(case))
    assert json.loads(body) == {"resourceType": "Bundle", "id": floor_module.TRACE, "entry": "x" * 10}
    assert json.loads((tmp_path / "journal.jsonl").read_text())["nhs_number"] == cases.TYPICAL_PERSONA
    assert len(log_lines) == 1 and floor_module.TRACE in log_lines[0]
    for key, value in (("HTTP_SSP_TO", "200000000359"), ("HTTP_SSP_TRACEID", "not-a-uuid"),
                       ("HTTP_ACCEPT", "text/html")):
        env = floor_module.environ(case)
        env[key] = value
        with pytest.raises(ValueError):
            floor(env)
    wrong = cases.migrate_case("floor", cases.TYPICAL_PERSONA, cases.CONSUMER_ODS)
    wrong.reason = "directcare"
    with pytest.raises(ValueError):
        floor(floor_module.environ(wrong))


def test_served_floor_answers_the_products_bytes_for_any_trace_id(tmp_path):
    """``floor.py serve`` (beside the product in make bench) joins the product's real answer around
    each request's trace id, with the product's headers; a request it does not take gets a 400."""
    floor_module = _load("floor")
    case = cases.migrate_case("floor", cases.TYPICAL_PERSONA, cases.CONSUMER_ODS)
    recorded = "0d4f1a8e-1111-4222-8333-444455556666"
    answer = json.dumps({"resourceType": "Bundle", "id": recorded, "type": "collection"}).encode()
    floor = floor_module.Floor(str(tmp_path / "journal.jsonl"), type("Log", (), {
        "write": lambda self, line: None, "flush": lambda self: None})(), answer=answer, trace=recorded)
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(floor.wsgi(floor_module.environ(case), start_response))
    assert seen["status"] == "200 OK"
    assert json.loads(body) == {"resourceType": "Bundle", "id": floor_module.TRACE, "type": "collection"}
    assert seen["headers"]["Content-Length"] == str(len(body))
    assert seen["headers"]["Content-Type"] == "application/fhir+json;charset=utf-8"
    assert seen["headers"]["Vary"] == "Accept-Encoding"
    env = floor_module.environ(case)
    env["HTTP_AUTHORIZATION"] = "Bearer not-a-jwt"
    assert floor.wsgi(env, start_response) == [b""] and seen["status"] == "400 Bad Request"
    with pytest.raises(ValueError):
        floor_module.Floor(str(tmp_path / "j2.jsonl"), None, answer=answer, trace=floor_module.TRACE)
