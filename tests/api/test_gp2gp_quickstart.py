"""The GP2GP adaptor quick start (docs/gp2gp.md), checked: requests shaped as the NHS GP2GP adaptor sends
them (integration-adaptor-gp2gp: GpcRequestBuilder, GpcTokenBuilder and its jwt templates; facts
only) get a Bundle and every document from the mock in lenient mode, and strict mode says why not."""
import base64
import json
import time
import uuid
from urllib.parse import urlsplit

import pytest

from mockprovider.app import create_app

STRUCTURED_ID = "urn:nhs:names:services:gpconnect:fhir:operation:gpc.migratestructuredrecord-1"
DOCUMENT_ID = "urn:nhs:names:services:gpconnect:documents:fhir:rest:migrate:binary-1"
GPC_URL = "http://gpconnect-mock:8080/@ODS_CODE@/STU3/1/gpconnect"    # GP2GP_GPC_GET_URL
PERSONA = "9690937286"          # a full record with documents


def segment(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def adaptor_token(from_ods="A12345") -> str:
    """The adaptor's unsigned JWT: pretty-printed JSON from templates, aud = the configured URL with
    @ODS_CODE@ left in, migration, patient/*.read conf/R, placeholder practitioner ids."""
    now = int(time.time())
    header = '{\n    "alg": "none",\n    "typ": "JWT"\n}'
    payload = {
        "iss": "http://gpconnect-postman-url", "sub": "1", "aud": GPC_URL, "exp": now + 300, "iat": now,
        "reason_for_request": "migration", "requested_scope": "patient/*.read conf/R",
        "requesting_device": {"resourceType": "Device", "id": "1",
                              "identifier": [{"system": "Web Interface", "value": "Postman example consumer"}],
                              "model": "Postman", "version": "1.0"},
        "requesting_organization": {"resourceType": "Organization", "name": "N/A", "identifier": [
            {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": from_ods}]},
        "requesting_practitioner": {"resourceType": "Practitioner", "id": "1", "identifier": [
            {"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": "UNK"},
            {"system": "https://fhir.nhs.uk/Id/sds-role-profile-id", "value": "UNK"}],
            "name": [{"family": "ADAPTOR", "given": ["GP2GP"], "prefix": ["System"]}]},
    }
    return f"{segment(header)}.{segment(json.dumps(payload, indent=4))}."


def adaptor_headers(interaction: str) -> dict:
    """No Ssp-From / Ssp-To: the adaptor leaves them to the SSP / consumer adaptor."""
    return {"Accept": "application/fhir+json", "Content-Type": "application/fhir+json",
            "Ssp-InteractionID": interaction, "Ssp-TraceID": str(uuid.uuid4()).upper(),
            "Authorization": "Bearer " + adaptor_token()}


def migrate_body(nhs=PERSONA) -> bytes:
    return json.dumps({"resourceType": "Parameters", "parameter": [
        {"name": "patientNHSNumber", "valueIdentifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}},
        {"name": "includeFullRecord", "part": [{"name": "includeSensitiveInformation", "valueBoolean": True}]},
    ]}).encode()


def client_for(tmp_path, validation):
    return create_app({"state_dir": str(tmp_path), "validation": validation}).test_client()


@pytest.mark.parametrize("fhir_base", ["/structured/fhir", "/fhir"])     # GP2GP_GPC_STRUCTURED_FHIR_BASE
def test_lenient_mock_serves_the_adaptor_a_record_and_every_document(tmp_path, fhir_base):
    client = client_for(tmp_path, "lenient")
    url = GPC_URL.replace("@ODS_CODE@", "B82617") + fhir_base + "/Patient/$gpc.migratestructuredrecord"
    headers = adaptor_headers(STRUCTURED_ID)
    answer = client.post(urlsplit(url).path, data=migrate_body(), headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    bundle = answer.get_json()
    assert bundle["id"] == headers["Ssp-TraceID"]
    urls = [c["attachment"]["url"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DocumentReference"
            for c in e["resource"]["content"]]
    assert urls
    for document_url in urls:                     # followed verbatim, as the adaptor does
        got = client.get(urlsplit(document_url).path, headers=adaptor_headers(DOCUMENT_ID))
        assert got.status_code == 200, (document_url, got.get_data(as_text=True)[:300])
        assert got.get_json()["resourceType"] == "Binary"
    findings = client.get("/_control/requests?limit=1").get_json()[0]["findings"]
    assert "Ssp-From missing (lenient)" in findings and "Ssp-To missing (lenient)" in findings


def test_strict_mock_says_what_the_adaptor_left_out(tmp_path):
    client = client_for(tmp_path, "strict")
    path = "/B82617/STU3/1/gpconnect/structured/fhir/Patient/$gpc.migratestructuredrecord"
    answer = client.post(path, data=migrate_body(), headers=adaptor_headers(STRUCTURED_ID))
    assert answer.status_code == 400
    assert answer.get_json()["issue"][0]["diagnostics"] == "Ssp-From header is missing"


def test_another_losing_practice_needs_the_mock_to_serve_its_ods(tmp_path):
    client = client_for(tmp_path, "lenient")
    path = "/A99999/STU3/1/gpconnect/structured/fhir/Patient/$gpc.migratestructuredrecord"
    answer = client.post(path, data=migrate_body(), headers=adaptor_headers(STRUCTURED_ID))
    assert answer.status_code == 501
    served = create_app({"state_dir": str(tmp_path / "b"), "validation": "lenient",
                         "ods_code": "A99999"}).test_client()
    assert served.post(path, data=migrate_body(), headers=adaptor_headers(STRUCTURED_ID)).status_code == 200
