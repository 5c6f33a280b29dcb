"""The SDS FHIR API mock (/spine-directory/FHIR/R4): Device and Endpoint searches over the practices
registry, checked against the SDS API's specification (NHSDigital/spine-directory-service-api:
parameter rules, status codes, the fields its examples carry) and an outside R4 validator
(fhir.resources' R4B models)."""
from __future__ import annotations

import uuid

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.endpoint import Endpoint
from fhir.resources.R4B.operationoutcome import OperationOutcome

BASE = "/spine-directory/FHIR/R4"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
INTERACTION_SYSTEM = "https://fhir.nhs.uk/Id/nhsServiceInteractionId"
PARTY_KEY_SYSTEM = "https://fhir.nhs.uk/Id/nhsMhsPartyKey"
MIGRATE = "urn:nhs:names:services:gpconnect:fhir:operation:gpc.migratestructuredrecord-1"
MIGRATE_DOC = "urn:nhs:names:services:gpconnect:documents:fhir:rest:migrate:binary-1"
CORRELATION = "0b9e4c1a-6f2d-4e8b-9a1c-3d5e7f9b1c2d"


def org(ods):
    return f"organization={ODS_SYSTEM}%7C{ods}"


def service(interaction=MIGRATE):
    return f"identifier={INTERACTION_SYSTEM}%7C{interaction}"


def party(key):
    return f"identifier={PARTY_KEY_SYSTEM}%7C{key}"


def sds(client, resource, *query, headers=None, method="GET"):
    sent = {"apikey": "any", "X-Correlation-Id": CORRELATION, **(headers or {})}
    sent = {k: v for k, v in sent.items() if v is not None}
    return client.open(f"{BASE}/{resource}?{'&'.join(query)}", method=method, headers=sent)


def identifiers(resource) -> dict:
    return {i["system"]: i["value"] for i in resource.get("identifier", [])}


def valid_bundle(body):
    Bundle.model_validate(body)
    for entry in body.get("entry", []):
        {"Device": Device, "Endpoint": Endpoint}[entry["resource"]["resourceType"]].model_validate(entry["resource"])


def test_device_for_the_default_practice(client):
    r = sds(client, "Device", org("B82617"), service())
    assert r.status_code == 200 and r.content_type == "application/fhir+json"
    assert r.headers["X-Correlation-ID"] == CORRELATION
    body = r.get_json()
    valid_bundle(body)
    assert (body["type"], body["total"], len(body["entry"])) == ("searchset", 1, 1)
    assert body["link"] == [{"relation": "self", "url": "http://localhost" + BASE + "/Device?organization="
                             f"{ODS_SYSTEM}|B82617&identifier={INTERACTION_SYSTEM}|{MIGRATE}"}]
    entry = body["entry"][0]
    device = entry["resource"]
    assert entry["search"] == {"mode": "match"} and entry["fullUrl"] == f"http://localhost{BASE}/Device/{device['id']}"
    ids = identifiers(device)
    assert ids["https://fhir.nhs.uk/Id/nhsSpineASID"] == "918999198738"           # what SdsClient reads
    assert ids[PARTY_KEY_SYSTEM] == "B82617-806557"
    assert device["owner"] == {"identifier": {"system": ODS_SYSTEM, "value": "B82617"}}
    manufacturer = [e for e in device["extension"] if e["url"].endswith("Extension-SDS-ManufacturingOrganisation")]
    assert manufacturer[0]["valueReference"]["identifier"] == {"system": ODS_SYSTEM, "value": "YMOCK1"}
    interactions = {e["valueReference"]["identifier"]["value"] for e in device["extension"]
                    if e["url"].endswith("Extension-SDS-NhsServiceInteractionId")}
    assert MIGRATE in interactions and MIGRATE_DOC in interactions


def test_endpoint_for_the_default_practice(client):
    r = sds(client, "Endpoint", org("B82617"), service())
    body = r.get_json()
    valid_bundle(body)
    endpoint = body["entry"][0]["resource"]
    assert endpoint["address"] == "http://localhost/B82617/STU3/1/gpconnect/structured/fhir"   # no trailing slash
    assert endpoint["status"] == "active" and endpoint["connectionType"]["code"] == "hl7-fhir-msg"
    assert endpoint["managingOrganization"] == {"identifier": {"system": ODS_SYSTEM, "value": "B82617"}}
    ids = identifiers(endpoint)
    assert ids["https://fhir.nhs.uk/Id/nhsMHSId"] == ids["https://fhir.nhs.uk/Id/nhsMhsCPAId"] == "B82617A0C1E2F4081017"
    assert ids[PARTY_KEY_SYSTEM] == "B82617-806557" and ids["https://fhir.nhs.uk/Id/nhsMhsFQDN"] == "localhost"
    documents = sds(client, "Endpoint", org("B82617"), service(MIGRATE_DOC)).get_json()["entry"][0]["resource"]
    assert documents["address"] == "http://localhost/B82617/STU3/1/gpconnect/documents/fhir"


def test_a_practice_with_its_own_host_publishes_it(client):
    endpoint = sds(client, "Endpoint", org("Y90001"), service()).get_json()["entry"][0]["resource"]
    assert endpoint["address"] == "https://gpconnect.y90001.example/Y90001/STU3/1/gpconnect/fhir"
    assert identifiers(endpoint)["https://fhir.nhs.uk/Id/nhsMhsFQDN"] == "gpconnect.y90001.example"


def test_the_sds_base_without_fhir_r4_answers_the_same(client):
    """The GPC Consumer Adaptor's own mocks serve /spine-directory/Endpoint: so does the mock."""
    a = client.get(f"/spine-directory/Endpoint?{org('B82617')}&{service()}", headers={"X-Correlation-Id": CORRELATION})
    b = sds(client, "Endpoint", org("B82617"), service())
    assert a.status_code == 200
    assert a.get_json()["entry"][0]["resource"] == b.get_json()["entry"][0]["resource"]


@pytest.mark.parametrize("query", [
    (org("Z99999"), service()),                  # an unknown organisation
    (org("Y90003"), service()),                  # PDS knows it, SDS does not
    (org("Y90002"), service("urn:nhs:names:services:gpconnect:structured:fhir:rest:read:metadata-1")),   # not offered
])
def test_nothing_found_is_200_with_an_empty_bundle(client, query):
    for resource in ("Device", "Endpoint"):
        r = sds(client, resource, *query)
        assert r.status_code == 200
        body = r.get_json()
        valid_bundle(body)
        assert body["total"] == 0 and body["entry"] == []


@pytest.mark.parametrize("resource,query,why", [
    ("Device", (org("B82617"), service(), "colour=blue"), "Illegal query parameter 'colour'"),
    ("Device", (service(),), "'organization"),
    ("Device", (org("B82617"),), "'identifier"),
    ("Device", (org("B82617"), party("B82617-806557")), "'identifier"),
    ("Device", ("organization=B82617", service()), "'organization"),
    ("Device", (org("B82617"), "identifier=urn:x|y"), "'identifier"),
    ("Device", (org("B82617"), service(), "manufacturing-organization=YMOCK1"), "'manufacturing-organization"),
    ("Endpoint", (org("B82617"), service(), f"manufacturing-organization={ODS_SYSTEM}%7CYMOCK1"),
     "Illegal query parameter 'manufacturing-organization'"),
    ("Endpoint", (org("B82617"),), "combinations"),
    ("Endpoint", (service(),), "combinations"),
    ("Endpoint", (party("B82617-806557"),), "combinations"),
    ("Endpoint", (), "combinations"),
])
def test_bad_parameters_and_combinations_are_400(client, resource, query, why):
    r = sds(client, resource, *query)
    assert r.status_code == 400
    body = r.get_json()
    OperationOutcome.model_validate(body)
    issue = body["issue"][0]
    assert issue["details"]["coding"][0]["code"] == "BAD_REQUEST" and why in issue["diagnostics"]
    assert body["id"] == CORRELATION


@pytest.mark.parametrize("query", [
    (org("B82617"), service(), party("B82617-806557")),
    (org("B82617"), party("B82617-806557")),
    (service(), party("B82617-806557")),
])
def test_the_endpoint_combinations_the_spec_allows(client, query):
    body = sds(client, "Endpoint", *query).get_json()
    assert body["total"] >= 1
    assert {e["resource"]["managingOrganization"]["identifier"]["value"] for e in body["entry"]} == {"B82617"}


def test_device_narrowed_by_manufacturer_and_party_key(client):
    ok = sds(client, "Device", org("GPCA0001"), service(), f"manufacturing-organization={ODS_SYSTEM}%7CX26").get_json()
    assert identifiers(ok["entry"][0]["resource"])["https://fhir.nhs.uk/Id/nhsSpineASID"] == "200000000359"
    other = sds(client, "Device", org("GPCA0001"), service(), f"manufacturing-organization={ODS_SYSTEM}%7CYMOCK1")
    assert other.get_json()["total"] == 0
    assert sds(client, "Device", org("B82617"), service(), party("B82617-000001")).get_json()["total"] == 0


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(client, method):
    r = sds(client, "Device", org("B82617"), service(), method=method)
    assert r.status_code == 405 and r.headers["Allow"] == "GET"
    assert r.get_json()["issue"][0]["details"]["coding"][0]["code"] == "NOT_IMPLEMENTED"


def test_an_unknown_path_is_404(client):
    r = sds(client, "Organization", org("B82617"))
    assert r.status_code == 404
    assert r.get_json()["issue"][0]["details"]["coding"][0]["code"] == "NO_RECORD_FOUND"


@pytest.mark.parametrize("accept,status,content_type", [
    (None, 200, "application/fhir+json"), ("*/*", 200, "application/fhir+json"),
    ("application/json", 200, "application/json"), ("application/fhir+json", 200, "application/fhir+json"),
    ("application/xml", 406, None), ("text/html", 406, None),
])
def test_accept(client, accept, status, content_type):
    r = sds(client, "Device", org("B82617"), service(), headers={"Accept": accept})
    assert r.status_code == status
    if status == 406:
        assert r.get_json()["issue"][0]["details"]["coding"][0]["code"] == "MISSING_OR_INVALID_HEADER"
    else:
        assert r.content_type == content_type


def test_the_correlation_id_is_checked_echoed_and_made_up_when_absent(client):
    bad = sds(client, "Device", org("B82617"), service(), headers={"X-Correlation-Id": "not-a-uuid"})
    assert bad.status_code == 400 and "X-Correlation-ID" in bad.get_json()["issue"][0]["diagnostics"]
    absent = [sds(client, "Device", org("B82617"), service(), headers={"X-Correlation-Id": None}) for _ in range(2)]
    made_up = absent[0].headers["X-Correlation-ID"]
    assert uuid.UUID(made_up) and absent[1].headers["X-Correlation-ID"] == made_up      # deterministic
    assert absent[0].data == absent[1].data


def test_the_apikey_is_lenient_by_default_and_required_in_the_strict_mode(client, control):
    r = sds(client, "Device", org("B82617"), service(), headers={"apikey": None})
    assert r.status_code == 200
    assert "apikey missing (lenient)" in control.journal(1)[0]["findings"]
    control.update_flags({"sds_apikey": "required"})
    r = sds(client, "Device", org("B82617"), service(), headers={"apikey": None})
    assert r.status_code == 401
    coding = r.get_json()["issue"][0]["details"]["coding"][0]
    assert (coding["code"], coding["system"]) == ("ACCESS_DENIED", "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode")
    assert sds(client, "Device", org("B82617"), service()).status_code == 200           # with one
    client.post("/_control/reset")
    assert sds(client, "Device", org("B82617"), service(), headers={"apikey": None}).status_code == 200


def test_registry_quirks(client):
    slash = sds(client, "Endpoint", org("Y90005"), service()).get_json()["entry"][0]["resource"]
    assert slash["address"].endswith("/Y90005/STU3/1/gpconnect/fhir/")
    bare = sds(client, "Endpoint", org("Y90006"), service()).get_json()["entry"][0]["resource"]
    assert PARTY_KEY_SYSTEM not in identifiers(bare)
    device = sds(client, "Device", org("Y90006"), service()).get_json()["entry"][0]["resource"]
    assert PARTY_KEY_SYSTEM not in identifiers(device)
    two = sds(client, "Endpoint", org("Y90007"), service()).get_json()
    assert two["total"] == 2 and len({e["resource"]["id"] for e in two["entry"]}) == 2
    keys = [identifiers(e["resource"])[PARTY_KEY_SYSTEM] for e in two["entry"]]
    assert keys == ["Y90007-800707", "Y90007-800708"]
    # the second MHS record's party key names no AS record: the spec's two-step lookup finds no ASID
    assert sds(client, "Device", org("Y90007"), service(), party(keys[1])).get_json()["total"] == 0


@pytest.mark.parametrize("quirk,check", [
    ("empty-address", lambda e: e["address"] == ""),
    ("no-mhs-id", lambda e: "https://fhir.nhs.uk/Id/nhsMHSId" not in identifiers(e)),
    ("trailing-slash", lambda e: e["address"].endswith("/")),
])
def test_a_quirk_fault_rule_changes_the_answer_while_it_lasts(client, quirk, check):
    r = client.post("/_control/faults", json={"kind": "quirk", "quirk": quirk, "times": 1,
                                              "match": {"interaction": "sds_endpoint", "ods": "B82617"}})
    assert r.status_code == 201
    first = sds(client, "Endpoint", org("B82617"), service()).get_json()["entry"][0]["resource"]
    assert check(first)
    again = sds(client, "Endpoint", org("B82617"), service()).get_json()["entry"][0]["resource"]
    assert not check(again)                                             # times: 1 -> used up
    journal = client.get("/_control/requests?interaction=sds_endpoint").get_json()
    assert journal[1]["fault"]["quirk"] == quirk and "fault" not in journal[0]


def test_a_quirk_rule_does_not_touch_other_practices_or_the_provider(client):
    client.post("/_control/faults", json={"kind": "quirk", "quirk": "empty-address", "match": {"ods": "B82617"}})
    other = sds(client, "Endpoint", org("Y90002"), service()).get_json()["entry"][0]["resource"]
    assert other["address"]


def test_a_502_fault_answers_in_the_sds_format(client):
    client.post("/_control/faults", json={"kind": "error", "status": 502, "match": {"interaction": "sds_device"}})
    r = sds(client, "Device", org("B82617"), service())
    assert r.status_code == 502
    body = r.get_json()
    OperationOutcome.model_validate(body)
    assert body["issue"][0]["details"]["coding"][0]["code"] == "INTERNAL_SERVER_ERROR"
    assert sds(client, "Endpoint", org("B82617"), service()).status_code == 200      # only the Device search


def test_a_delay_fault_matches_an_sds_path(client):
    r = client.post("/_control/faults", json={"kind": "delay", "ms": 50, "match": {"path": f"{BASE}/Endpoint"}})
    assert r.status_code == 201
    sds(client, "Endpoint", org("B82617"), service())
    assert client.get("/_control/requests?limit=1").get_json()[0]["fault"]["ms"] == 50


def test_a_spine_coded_error_rule_cannot_target_sds(client):
    r = client.post("/_control/faults", json={"kind": "error", "code": "NO_RECORD_FOUND",
                                              "match": {"interaction": "sds_device"}})
    assert r.status_code == 400 and r.get_json()["field"] == "code"


def test_the_journal_shows_what_the_consumer_asked_never_the_apikey(client):
    sds(client, "Device", org("B82617"), service(), headers={"apikey": "secret-key-123"})
    [row] = client.get("/_control/requests?interaction=sds_device").get_json()
    assert row["query"] == [["organization", f"{ODS_SYSTEM}|B82617"], ["identifier", f"{INTERACTION_SYSTEM}|{MIGRATE}"]]
    assert row["headers"]["X-Correlation-Id"] == CORRELATION and row["trace_id"] == CORRELATION
    assert row["apikey_sent"] is True and (row["ods"], row["entries"], row["status"]) == ("B82617", 1, 200)
    assert "secret-key-123" not in str(client.get("/_control/state").get_json())


def test_the_same_search_gives_the_same_bytes(client):
    a = sds(client, "Endpoint", org("Y90007"), service())
    b = sds(client, "Endpoint", org("Y90007"), service())
    assert a.data == b.data
