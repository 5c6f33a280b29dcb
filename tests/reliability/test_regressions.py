"""Bugs the fuzzer found, pinned as plain examples (each answered 500 or HTML before its fix)."""
import json

import pytest

from tests import helpers as h
from tests.spec_tables import assert_outcome

META = h.STRUCTURED + "/metadata"
MIGRATE = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"


@pytest.mark.parametrize("content_type", [",", " , ", ",,"])
def test_content_type_naming_no_type_is_unsupported_media_type(client, content_type):
    headers = {**h.migrate_headers(), "Content-Type": content_type}
    assert_outcome(client.post(MIGRATE, headers=headers, data=b"{}"), "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "A", "CONNECT"])
def test_unlisted_method_goes_through_the_gate(client, method):
    assert_outcome(client.open(META, method=method, headers=h.metadata_headers()), "BAD_REQUEST")
    assert_outcome(client.open("/nowhere", method=method, headers=h.metadata_headers()), "NOT_IMPLEMENTED")


def test_unlisted_method_on_the_control_api_is_json_405(client):
    response = client.open("/_control/health", method="PROPFIND")
    assert response.status_code == 405
    assert response.is_json and "PROPFIND" in response.get_json()["error"]


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"resourceType":"Parameters","parameter":' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"resourceType":"Parameters","parameter":[{"name":"includeFullRecord","part":'
    + b'{"part":[' * 3000 + b"1" + b"]}" * 3000 + b"}]}",
])
def test_deeply_nested_body_is_invalid_resource_not_recursion_error(client, body):
    assert_outcome(client.post(MIGRATE, headers=h.migrate_headers(), data=body), "INVALID_RESOURCE")


@pytest.mark.parametrize("where", ["patientNHSNumber", "includeSensitiveInformation"])
@pytest.mark.parametrize("part", [[1], ["x"], [None], [[]]])
def test_a_part_that_is_not_an_object_is_invalid_parameter(client, where, part):
    body = h.migrate_body()
    target = body["parameter"][0] if where == "patientNHSNumber" else body["parameter"][1]["part"][0]
    target["part"] = part
    response = client.post(MIGRATE, headers=h.migrate_headers(), json=body)
    assert_outcome(response, "INVALID_PARAMETER")


@pytest.mark.parametrize("path", [META + "%0A", META + "%0D%0A", "/%0A", h.DOCUMENTS + "/Binary/a%0Ab"])
def test_a_path_with_a_newline_is_a_fhir_answer(client, path):
    response = client.get(path, headers=h.metadata_headers())
    assert_outcome(response, "NOT_IMPLEMENTED")


def test_a_control_path_with_a_newline_is_json_404(client):
    response = client.get("/_control/health%0A")
    assert response.status_code == 404 and response.is_json


@pytest.mark.parametrize("rule", [{"kind": "error", "code": []}, {"kind": "error", "code": {}},
                                  {"kind": "error", "status": []}, {"kind": "error", "status": {"a": 1}},
                                  {"kind": "error", "status": "503"}])
def test_a_fault_rule_with_a_code_or_status_of_the_wrong_type_is_400(client, rule):
    response = client.post("/_control/faults", json=rule)
    assert response.status_code == 400 and response.is_json
    assert response.get_json()["field"] in ("code", "status")


def test_a_document_authored_by_someone_not_the_usual_gp_is_refused_at_put(client):
    """Found by test_fuzz_personas (a mutated usual_gp): the document-author link was only checked while
    the document index was built, after the persona was stored, so the PUT answered 500 and every later
    request failed. It is now a 400 naming the path, and nothing is stored."""
    from pathlib import Path
    from mockprovider.config import BUILT_IN_PERSONAS
    data = json.loads((Path(BUILT_IN_PERSONAS) / "9690937286.json").read_text())
    data["usual_gp"]["sds_user_id"] = "G9999999"
    r = client.put("/_control/personas/9690937286", json=data)
    assert r.status_code == 400
    assert r.get_json()["errors"][0]["path"].endswith(".author.practitioner")
    assert client.get("/_control/personas").status_code == 200
    assert client.get("/_control/personas/9690937286").get_json()["name"] == "Mrs Jane Anne Jackson"
