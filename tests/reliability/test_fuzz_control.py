"""Fuzzing with faults injected, and fuzzing the control API itself.

- An injected ``error`` fault answers exactly what was asked: a spec-exact OperationOutcome for a
  Spine code (its status from the table, 5xx included), or the proxy-style 502/503/504 body.
  Only then may a FHIR path answer 5xx.
- The control API answers any JSON (or not-JSON) with 2xx or a JSON 4xx naming the problem; never 500.
"""
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockprovider.app import create_app
from tests.reliability import fuzzing as fz

FHIR_JSON = "application/fhir+json;charset=utf-8"
PROXY_SYSTEM = "http://fhir.nhs.net/ValueSet/gpconnect-schedule-response-code-1-0"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app({"state_dir": str(tmp_path_factory.mktemp("fuzz-control"))})


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def _ids():
    from tests.reliability.test_fuzz import _known
    numbers, path_ids = _known()
    return st.tuples(st.sampled_from(numbers), st.sampled_from(path_ids))


@fz.fuzz_settings(150)
@given(kind=st.sampled_from(fz.KINDS), ids=_ids(),
       fault=st.one_of(st.sampled_from(sorted(fz.SPEC_ERRORS)).map(lambda c: {"code": c}),
                       st.sampled_from([502, 503, 504]).map(lambda s: {"status": s})),
       matched=st.booleans())
def test_injected_error_faults_answer_exactly_what_was_asked(client, kind, ids, fault, matched):
    rule = {"kind": "error", **fault, "times": 1}
    if matched:
        rule["match"] = {"interaction": kind}
    added = client.post("/_control/faults", json=rule)
    if added.status_code == 400:   # a Spine code this mock does not emit (not in its table)
        assert "code" in fault and added.is_json
        return
    assert added.status_code == 201, added.data
    try:
        method, path, headers, body = fz.base_request(kind, *ids)
        response = client.open(path, method=method, headers=headers, data=body)
        data = response.get_data()
        if "status" in fault:
            assert response.status_code == fault["status"]
            assert response.headers["Content-Type"] == FHIR_JSON
            assert "no-store" in response.headers["Cache-Control"]
            coding = json.loads(data)["issue"][0]["details"]["coding"][0]
            assert coding["system"] == PROXY_SYSTEM and coding["code"] == str(fault["status"])
        else:
            code = fz.check_fhir_answer(method, response.status_code, response.headers, data, fault_injected=True)
            assert code == fault["code"], (code, fault)
    finally:
        client.delete("/_control/faults")


control_paths = st.sampled_from(["/_control/faults", "/_control/flags", "/_control/reset", "/_control/requests",
                                 "/_control/state", "/_control/health", "/_control/faults/x", "/_control/nothing",
                                 "/_control/requests?limit=-1", "/_control/requests?limit=abc"])
control_bodies = st.one_of(
    fz.json_values.map(lambda v: json.dumps(v, allow_nan=True).encode("utf-8", "surrogatepass")),
    st.fixed_dictionaries({"kind": st.sampled_from(["error", "delay", "reset", "drip", "x"])},
                          optional={"code": fz.json_values, "status": fz.json_values, "ms": fz.json_values,
                                    "times": fz.json_values, "match": fz.json_values,
                                    "duration_ms": fz.json_values, "diagnostics": fz.json_values})
    .map(lambda v: json.dumps(v, allow_nan=True).encode("utf-8", "surrogatepass")),
    st.dictionaries(st.sampled_from(["validation", "documents_enabled", "gpconnect_enabled",
                                     "retrieve_document_limit_bytes", "error_display", "nope"]),
                    fz.json_values, max_size=3).map(lambda v: json.dumps(v, allow_nan=True).encode()),
    st.binary(max_size=60),
)


@fz.fuzz_settings(300)
@given(method=st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT"]), path=control_paths, body=control_bodies)
def test_the_control_api_never_answers_500(client, method, path, body):
    response = client.open(path, method=method, data=body, headers={"Content-Type": "application/json"})
    assert response.status_code < 500, (method, path, body[:200], response.data[:300])
    assert response.is_json, response.data[:200]
    if response.status_code >= 400:
        assert isinstance(response.get_json(), dict) and response.get_json().get("error")
    client.post("/_control/reset")   # faults added by the fuzz must not leak into the next example
