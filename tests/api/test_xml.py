"""FHIR XML (``application/fhir+xml``) for every interaction and every OperationOutcome.

Each XML answer is compared with its JSON twin (same request, same Ssp-TraceID) resource by
resource, both parsed into one neutral shape (tests/fhir_xml.py) and never through the product's
own serialiser; its element order is checked against fhir.resources' STU3 models. Plus the
assurance suite's XML scenarios (assurance-suite.md §4 P9-P11, FHIR.feature formats and
negotiation), XML request bodies for migrate, and determinism.
"""
import base64
import json
import uuid

import pytest

from mockprovider.personas import ids
from tests import helpers as h
from tests.fhir_xml import FHIR_XML, element_order_errors, get, neutral_json, neutral_xml, resource_name
from tests.spec_tables import ERRORS, OO_PROFILE, SPINE_SYSTEM

FHIR_JSON = "application/fhir+json;charset=utf-8"
MIGRATE = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
MAIN, BIG = "9690937286", "9690937308"
PDF = f"{h.DOCUMENTS}/Binary/{ids.document_id(MAIN, 'discharge-letter')}"
INCLUDES = ("_include=DocumentReference:subject:Patient&_include=DocumentReference:custodian:Organization"
            "&_include=DocumentReference:author:Organization&_include=DocumentReference:author:Practitioner"
            "&_revinclude:recurse=PractitionerRole:practitioner")


def twins(client, method, path, headers, body=None, how="accept"):
    """(JSON answer, XML answer) for one request sent twice with the same trace id."""
    headers = dict(headers, **{"Ssp-TraceID": str(uuid.uuid4())})
    as_json = client.open(path, method=method, headers=headers, data=body)
    xml_headers, xml_path = dict(headers), path
    if how == "accept":
        xml_headers["Accept"] = "application/fhir+xml"
    else:
        xml_path += ("&" if "?" in path else "?") + "_format=" + how
    as_xml = client.open(xml_path, method=method, headers=xml_headers, data=body)
    return as_json, as_xml


def assert_same_content(as_json, as_xml):
    assert as_json.headers["Content-Type"] == FHIR_JSON
    assert as_xml.headers["Content-Type"] == FHIR_XML, as_xml.data[:200]
    assert as_xml.status_code == as_json.status_code
    assert "no-store" in as_xml.headers["Cache-Control"]
    resource = json.loads(as_json.data)
    xml = neutral_xml(as_xml.data)
    assert element_order_errors(as_xml.data) == []
    if resource["resourceType"] == "Bundle":
        json_entries = resource.get("entry", [])
        xml_bundle = xml["Bundle"][0]
        xml_entries = xml_bundle.get("entry", [])
        assert len(xml_entries) == len(json_entries)
        for n, (j, x) in enumerate(zip(json_entries, xml_entries)):       # resource by resource
            assert neutral_json(j) == x, f"entry {n} ({j['resource']['resourceType']}/{j['resource'].get('id')})"
        rest_json = neutral_json({k: v for k, v in resource.items() if k != "entry"})
        rest_xml = {k: v for k, v in xml_bundle.items() if k != "entry"}
        assert rest_json == {"Bundle": [rest_xml]}
    else:
        assert neutral_json(resource) == xml
    return resource, xml


def search_headers():
    return h.headers(h.SEARCH_DOCUMENTS, h.claims())


# --- every interaction ------------------------------------------------------------------------------------
@pytest.mark.parametrize("root,interaction", [(h.STRUCTURED, h.METADATA_STRUCTURED), (h.DOCUMENTS, h.METADATA_DOCUMENTS),
                                              (h.SINGLE, "urn:nhs:names:services:gpconnect:fhir:rest:read:metadata-1")])
def test_metadata(client, root, interaction):
    resource, xml = assert_same_content(*twins(client, "GET", root + "/metadata",
                                               h.headers(interaction, h.claims(scope="organization/*.read"))))
    formats = xml["CapabilityStatement"][0]["format"]
    assert {"application/fhir+json", "application/fhir+xml"} <= set(formats)     # FHIR.feature


@pytest.mark.parametrize("how", ["accept", "xml", "application/fhir%2Bxml", "application/fhir+xml"])
def test_find_patient_p9_p10_p11(client, how):
    path = f"{h.DOCUMENTS}/Patient?identifier={NHS_SYSTEM}|{MAIN}"
    as_json, as_xml = twins(client, "GET", path, h.headers(h.FIND_PATIENT, h.claims()), how=how)
    resource, xml = assert_same_content(as_json, as_xml)
    bundle = xml["Bundle"][0]
    assert get(bundle, "id") == resource["id"]
    patient = get(bundle, "entry", "resource", "Patient")
    nhs = [i for i in patient["identifier"] if get(i, "system") == NHS_SYSTEM]       # P11
    assert [get(i, "value") for i in nhs] == [MAIN]


def test_read_patient(client):
    patient_id = ids.patient_id(MAIN)
    as_json, as_xml = twins(client, "GET", f"{h.DOCUMENTS}/Patient/{patient_id}",
                            h.headers("urn:nhs:names:services:gpconnect:documents:fhir:rest:read:patient-1", h.claims()))
    assert_same_content(as_json, as_xml)
    assert as_xml.headers["ETag"] == as_json.headers["ETag"]


def test_search_documents(client):
    path = f"{h.DOCUMENTS}/Patient/{ids.patient_id(MAIN)}/DocumentReference?{INCLUDES}"
    resource, _ = assert_same_content(*twins(client, "GET", path, search_headers()))
    assert any(e["resource"]["resourceType"] == "DocumentReference" for e in resource["entry"])


@pytest.mark.parametrize("interaction", [h.RETRIEVE_DOCUMENT, h.MIGRATE_DOCUMENT])
def test_binary(client, interaction):
    as_json, as_xml = twins(client, "GET", PDF, h.headers(interaction, h.claims()))
    resource, xml = assert_same_content(as_json, as_xml)
    assert int(as_xml.headers["Content-Length"]) == len(as_xml.data)
    binary = xml["Binary"][0]
    assert "securityContext" not in binary
    assert base64.b64decode(get(binary, "content")) == base64.b64decode(resource["content"])


def test_migrate_structured_every_persona(client, app):
    """Every built-in persona that migrates, both sensitivities: the XML Bundle has the same
    resources as the JSON one, in the STU3 element order."""
    numbers = sorted(p.nhs_number for p in app.extensions["mockprovider"].personas)
    served = 0
    for nhs in numbers:
        for sensitive in (False, True):
            as_json, as_xml = twins(client, "POST", MIGRATE, h.migrate_headers(sensitive),
                                    json.dumps(h.migrate_body(nhs, sensitive)))
            if as_json.status_code == 200:
                served += 1
            else:
                assert resource_name(as_xml.data) == "OperationOutcome"
            assert_same_content(as_json, as_xml)
    assert served >= 20


# --- every OperationOutcome --------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["unknown path", "bad trace", "bad jwt", "unknown patient", "no record", "bad body"])
def test_every_error_in_xml(client, case):
    meta = h.STRUCTURED + "/metadata"
    requests = {
        "unknown path": ("GET", h.STRUCTURED + "/metadatas", h.metadata_headers(), None, "NOT_IMPLEMENTED"),
        "bad trace": ("GET", meta, h.metadata_headers(), None, "BAD_REQUEST"),
        "bad jwt": ("GET", meta, h.metadata_headers(Authorization="Bearer x.y.z"), None, "BAD_REQUEST"),
        "unknown patient": ("POST", MIGRATE, h.migrate_headers(), json.dumps(h.migrate_body("9999999999")),
                            "PATIENT_NOT_FOUND"),
        "no record": ("GET", f"{h.DOCUMENTS}/Binary/nope", h.headers(h.RETRIEVE_DOCUMENT, h.claims()), None,
                      "NO_RECORD_FOUND"),
        "bad body": ("POST", MIGRATE, h.migrate_headers(), b"{", "INVALID_RESOURCE"),
    }
    method, path, headers, body, code = requests[case]
    as_json, as_xml = twins(client, method, path, headers, body)
    if case == "bad trace":
        headers = dict(headers, **{"Ssp-TraceID": "not-a-uuid", "Accept": "application/fhir+xml"})
        as_xml = client.open(path, method=method, headers=headers)
        as_json = client.open(path, method=method, headers=dict(headers, Accept="application/fhir+json"))
    _, xml = assert_same_content(as_json, as_xml)
    status, issue_type, display = ERRORS[code]
    assert as_xml.status_code == status
    outcome = xml["OperationOutcome"][0]
    assert get(outcome, "meta", "profile") == OO_PROFILE
    issue = get(outcome, "issue")
    assert get(issue, "severity") == "error" and get(issue, "code") == issue_type
    assert get(issue, "details", "coding") == {"system": [SPINE_SYSTEM], "code": [code], "display": [display]}


def test_unsupported_format_is_415_in_json(client):
    r = client.get(h.STRUCTURED + "/metadata?_format=text/turtle", headers=h.metadata_headers())
    assert r.status_code == 415 and r.headers["Content-Type"] == FHIR_JSON


def test_injected_error_fault_answers_in_xml(client):
    r = client.post("/_control/faults", json={"kind": "error", "status": 503})
    assert r.status_code in (200, 201), r.data
    answer = client.get(h.STRUCTURED + "/metadata", headers=h.metadata_headers(Accept="application/fhir+xml"))
    assert answer.headers["Content-Type"] == FHIR_XML and resource_name(answer.data) == "OperationOutcome"


# --- negotiation (general API guidance; FHIR.feature's matrix) ------------------------------------------------
def test_format_wins_over_accept_and_request_content_type_does_not_matter_for_get(client):
    meta = h.STRUCTURED + "/metadata"
    r = client.get(meta + "?_format=json", headers=h.metadata_headers(Accept="application/fhir+xml"))
    assert r.headers["Content-Type"] == FHIR_JSON
    r = client.get(meta + "?_format=xml", headers=h.metadata_headers(Accept="application/fhir+json"))
    assert r.headers["Content-Type"] == FHIR_XML
    r = client.get(meta, headers=h.metadata_headers(**{"Accept": None, "Content-Type": "application/fhir+xml"}))
    assert r.headers["Content-Type"] == FHIR_JSON


# --- XML request bodies -----------------------------------------------------------------------------------
def parameters_xml(nhs=MAIN, sensitive=False, extra=""):
    return (f'<Parameters xmlns="http://hl7.org/fhir"><parameter><name value="patientNHSNumber"/>'
            f'<valueIdentifier><system value="{NHS_SYSTEM}"/><value value="{nhs}"/></valueIdentifier></parameter>'
            f'<parameter><name value="includeFullRecord"/><part><name value="includeSensitiveInformation"/>'
            f'<valueBoolean value="{"true" if sensitive else "false"}"/></part></parameter>{extra}</Parameters>').encode()


def xml_body_headers(accept="application/fhir+json", sensitive=False):
    headers = h.migrate_headers(sensitive)
    headers["Content-Type"] = "application/fhir+xml;charset=utf-8"
    headers["Accept"] = accept
    return headers


def test_migrate_with_an_xml_body_answers_as_the_json_body_does(client):
    headers = xml_body_headers()
    from_xml = client.post(MIGRATE, headers=headers, data=parameters_xml())
    from_json = client.post(MIGRATE, headers=dict(headers, **{"Content-Type": "application/fhir+json"}),
                            data=json.dumps(h.migrate_body()))
    assert from_xml.status_code == 200 and from_xml.data == from_json.data


def test_xml_body_without_accept_is_answered_in_xml(client):
    headers = xml_body_headers()
    del headers["Accept"]
    r = client.post(MIGRATE, headers=headers, data=parameters_xml())
    assert r.status_code == 200 and r.headers["Content-Type"] == FHIR_XML


@pytest.mark.parametrize("body,code", [
    (b"<Parameters", "INVALID_RESOURCE"),
    (b'<Parameters xmlns="urn:other"/>', "INVALID_RESOURCE"),
    (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><Parameters xmlns="http://hl7.org/fhir"/>', "INVALID_RESOURCE"),
    (b'<Patient xmlns="http://hl7.org/fhir"/>', "INVALID_RESOURCE"),
    (parameters_xml(extra='<parameter><name value="includeImmunisations"/></parameter>'), "INVALID_PARAMETER"),  # M4
    (parameters_xml(nhs="1234567891"), "INVALID_NHS_NUMBER"),
])
def test_bad_xml_bodies(client, body, code):
    r = client.post(MIGRATE, headers=xml_body_headers("application/fhir+xml"), data=body)
    status, issue_type, display = ERRORS[code]
    assert r.status_code == status, r.data
    assert r.headers["Content-Type"] == FHIR_XML
    assert get(neutral_xml(r.data), "OperationOutcome", "issue", "details", "coding", "code") == code


# --- deterministic and cached --------------------------------------------------------------------------------
def test_xml_is_deterministic(client):
    headers = dict(h.migrate_headers(), Accept="application/fhir+xml")
    first = client.post(MIGRATE, headers=headers, data=json.dumps(h.migrate_body()))
    second = client.post(MIGRATE, headers=headers, data=json.dumps(h.migrate_body()))
    assert first.status_code == 200 and first.data == second.data
    assert f'<Bundle xmlns="http://hl7.org/fhir"><id value="{headers["Ssp-TraceID"]}"/>'.encode() in first.data
