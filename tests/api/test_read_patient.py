"""Read a patient on the documents root (GET /Patient/{id}): the id find-a-patient returns."""
import pytest
from fhir.resources.STU3.patient import Patient

from mockprovider.personas import ids
from tests import helpers as h
from tests.spec_tables import assert_outcome

READ_PATIENT = "urn:nhs:names:services:gpconnect:documents:fhir:rest:read:patient-1"
READ_PATIENT_ALT = "urn:nhs:names:services:gpconnect-documents:fhir:rest:read:patient-1"
MAIN = "9690937286"


def read(client, patient_id, interaction=READ_PATIENT):
    return client.get(f"{h.DOCUMENTS}/Patient/{patient_id}", headers=h.headers(interaction))


@pytest.mark.parametrize("interaction", [READ_PATIENT, READ_PATIENT_ALT])
def test_read_the_patient_find_returns(client, interaction):
    found = client.get(f"{h.DOCUMENTS}/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|{MAIN}",
                       headers=h.headers(h.FIND_PATIENT)).get_json()
    patient_id = found["entry"][0]["resource"]["id"]
    r = read(client, patient_id, interaction)
    assert r.status_code == 200
    body = r.get_json()
    Patient.model_validate(body)
    assert body["id"] == patient_id
    assert body["meta"]["profile"] == ["https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Patient-1"]
    assert r.headers["ETag"] == f'W/"{body["meta"]["versionId"]}"'
    assert r.headers["Content-Type"] == "application/fhir+json;charset=utf-8"
    assert "no-store" in r.headers["Cache-Control"]
    assert any(i["value"] == MAIN for i in body["identifier"])


@pytest.mark.parametrize("nhs", ["9690938533", "9690938681"])   # sensitive, deceased: not findable
def test_hidden_or_unknown_patient_is_not_found(client, nhs):
    assert_outcome(read(client, ids.patient_id(nhs)), "PATIENT_NOT_FOUND")
    assert_outcome(read(client, "9999999999999"), "PATIENT_NOT_FOUND")


@pytest.mark.parametrize("flag", ["gpconnect_enabled", "documents_enabled"])
def test_enablement_off_is_access_denied(client, control, flag):
    control.update_flags({flag: False})
    assert_outcome(read(client, ids.patient_id(MAIN)), "ACCESS DENIED")


def test_documents_capability_statement_lists_what_is_served(client):
    r = client.get(h.DOCUMENTS + "/metadata", headers=h.headers(h.METADATA_DOCUMENTS, h.claims(scope="organization/*.read")))
    resources = {res["type"]: res for res in r.get_json()["rest"][0]["resource"]}
    assert {i["code"] for i in resources["Patient"]["interaction"]} == {"read", "search-type"}
    assert {i["code"] for i in resources["Binary"]["interaction"]} == {"read"}
    assert {i["code"] for i in resources["DocumentReference"]["interaction"]} == {"search-type"}
