"""POST /_control/personas/{nhs}/retrieve ("try a query", the console's form): the same answer
$gpc.getstructuredrecord gives, without request headers or JWT; JSON errors naming the field."""
import json
import uuid

from tests import helpers as h

MAIN = "9690990306"
URL = f"/_control/personas/{MAIN}/retrieve"
ALLERGIES = h.area("includeAllergies", includeResolvedAllergies=True)


def test_the_answer_is_the_fhir_answer(client):
    trace = str(uuid.uuid4())
    body = h.retrieve_body(MAIN, ALLERGIES, {"name": "includeProblems"}, {"name": "madeUp"})
    headers = h.retrieve_headers()
    headers["Ssp-TraceID"] = trace
    fhir = client.post(h.RETRIEVE_URL, data=json.dumps(body), headers=headers)
    control = client.post(f"{URL}?trace_id={trace}", json=body)
    assert control.status_code == 200 and control.content_type == "application/fhir+json;charset=utf-8"
    assert control.data == fhir.data
    assert client.get(f"/_control/personas/{MAIN}").get_json()["retrieve"] == URL


def test_the_patient_number_may_be_left_out(client):
    with_number = client.post(URL, json=h.retrieve_body(MAIN, ALLERGIES)).data
    without = client.post(URL, json=h.retrieve_body(MAIN, ALLERGIES, nhs_parameter=False)).data
    assert with_number == without and b'"00000000-0000-4000-8000-000000000000"' in without


def test_errors_are_the_interactions(client):
    r = client.post(URL, json=h.retrieve_body(MAIN, {"name": "includeAllergies"}))
    assert r.status_code == 422 and r.get_json()["issue"][0]["details"]["coding"][0]["code"] == "INVALID_PARAMETER"
    r = client.post("/_control/personas/9690938576/retrieve", json=h.retrieve_body("9690938576", ALLERGIES))
    assert r.status_code == 403 and r.get_json()["issue"][0]["details"]["coding"][0]["code"] == "NO_PATIENT_CONSENT"
    r = client.post(URL, data=b"{not json", content_type="application/json")
    assert r.status_code == 422 and r.get_json()["issue"][0]["details"]["coding"][0]["code"] == "INVALID_RESOURCE"


def test_control_errors_name_the_field(client):
    r = client.post(URL, json=h.retrieve_body("9690937286", ALLERGIES))
    assert r.status_code == 400 and r.get_json()["field"] == "patientNHSNumber"
    r = client.post(URL, data="x", content_type="text/plain")
    assert r.status_code == 415 and r.get_json()["field"] == "Content-Type"
    r = client.post(URL + "?trace_id=nope", json=h.retrieve_body(MAIN, ALLERGIES))
    assert r.status_code == 400 and r.get_json()["field"] == "trace_id"
    r = client.post("/_control/personas/9999999999/retrieve", json=h.retrieve_body("9999999999", ALLERGIES))
    assert r.status_code == 404 and r.get_json()["field"] == "nhs_number"


def test_the_control_token_is_needed(tmp_path):
    from mockprovider.app import create_app
    app = create_app({"state_dir": str(tmp_path / "s"), "control_token": "sekret"})
    c = app.test_client()
    assert c.post(URL, json=h.retrieve_body(MAIN, ALLERGIES)).status_code == 401
    assert c.post(URL, json=h.retrieve_body(MAIN, ALLERGIES), headers={"Authorization": "Bearer sekret"}).status_code == 200
