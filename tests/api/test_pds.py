"""The PDS FHIR API mock (/personal-demographics/FHIR/R4) and its token endpoint (/oauth2/token),
checked against the PDS specification (NHSDigital/personal-demographics-service-api: patient-get.yaml,
patient-search.yaml, the schemas' field rules) and an outside R4 validator (fhir.resources' R4B models)."""
from __future__ import annotations

import base64
import json
import time

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient

BASE = "/personal-demographics/FHIR/R4"
REQUEST_ID = "60E0B220-8136-4CA5-AE46-1D97EF59D068"
R4_ERRORS = "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode"


def read(client, nhs, **headers):
    sent = {"X-Request-ID": REQUEST_ID, **headers}
    return client.get(f"{BASE}/Patient/{nhs}", headers={k: v for k, v in sent.items() if v is not None})


def search(client, query, **headers):
    sent = {"X-Request-ID": REQUEST_ID, **headers}
    return client.get(f"{BASE}/Patient?{query}", headers={k: v for k, v in sent.items() if v is not None})


def error_code(r):
    body = r.get_json()
    OperationOutcome.model_validate(body)
    coding = body["issue"][0]["details"]["coding"][0]
    assert coding["system"] == R4_ERRORS and coding["version"] == "1"
    return coding["code"]


def gp_of(patient):
    return [g["identifier"]["value"] for g in patient.get("generalPractitioner", [])]


def test_read_a_patient(client):
    r = read(client, "9690937286", **{"X-Correlation-ID": "corr-1"})
    assert r.status_code == 200 and r.content_type == "application/fhir+json"
    assert r.headers["X-Request-ID"] == REQUEST_ID and r.headers["X-Correlation-ID"] == "corr-1"
    patient = r.get_json()
    Patient.model_validate(patient)
    assert r.headers["ETag"] == f'W/"{patient["meta"]["versionId"]}"'
    assert patient["id"] == "9690937286"
    [identifier] = patient["identifier"]
    assert (identifier["system"], identifier["value"]) == ("https://fhir.nhs.uk/Id/nhs-number", "9690937286")
    status = identifier["extension"][0]
    assert status["url"] == "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
    assert status["valueCodeableConcept"]["coding"][0]["code"] == "01"
    assert patient["meta"]["security"] == [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                                            "code": "U", "display": "unrestricted"}]
    assert patient["name"][0]["use"] == "usual" and patient["name"][0]["family"] == "Jackson"
    assert gp_of(patient) == ["B82617"]
    assert patient["generalPractitioner"][0]["type"] == "Organization"
    assert patient["address"][0]["use"] == "home" and patient["address"][0]["postalCode"]
    assert patient["birthDate"] and patient["gender"] in ("male", "female", "other", "unknown")


def test_the_gp_is_the_practice_each_personas_rules_need(client):
    assert gp_of(read(client, "9690939114").get_json()) == ["A20047"]     # registered elsewhere
    assert gp_of(read(client, "9690990403").get_json()) == ["Y90001"]     # a patient of another practice
    assert gp_of(read(client, "9690990489").get_json()) == ["Y90003"]     # not on GP Connect
    assert gp_of(read(client, "9690990470").get_json()) == []             # no current GP


def test_consumer_ods_sets_the_gp_as_it_sets_the_relationship(tmp_path):
    from mockprovider.app import create_app
    client = create_app({"state_dir": str(tmp_path / "s"), "consumer_ods": "GPCA0001"}).test_client()
    assert gp_of(read(client, "9690937286").get_json()) == ["GPCA0001"]
    assert gp_of(read(client, "9690939114").get_json()) == ["A20047"]


def test_a_restricted_patient_has_no_address_telecom_or_gp(client):
    r = read(client, "9690938533")
    assert r.status_code == 200
    patient = r.get_json()
    Patient.model_validate(patient)
    assert patient["meta"]["security"][0]["code"] == "R"
    assert not {"address", "telecom", "generalPractitioner"} & set(patient)


def test_a_deceased_patient(client):
    patient = read(client, "9690938681").get_json()
    Patient.model_validate(patient)
    assert patient["deceasedDateTime"].startswith("20")
    [death] = patient["extension"]
    assert death["url"] == "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus"
    assert death["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "2"


def test_dissent_and_the_local_nhs_number_status_are_not_pds_facts(client):
    dissented = read(client, "9690938576").get_json()
    assert "dissent" not in json.dumps(dissented).lower() and dissented["meta"]["security"][0]["code"] == "U"
    unverified = read(client, "9690939106").get_json()        # the provider's local status is 02
    assert unverified["identifier"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "01"


@pytest.mark.parametrize("nhs,status,code", [
    ("9690937287", 400, "INVALID_RESOURCE_ID"),      # check digit fails
    ("969093728", 400, "INVALID_RESOURCE_ID"),
    ("9000000009", 404, "RESOURCE_NOT_FOUND"),        # valid, no persona
    ("9690990438", 404, "RESOURCE_NOT_FOUND"),        # a persona PDS does not hold
    ("9690990446", 404, "INVALIDATED_RESOURCE"),
    ("", 400, "UNSUPPORTED_SERVICE"),
])
def test_read_errors(client, nhs, status, code):
    r = read(client, nhs)
    assert r.status_code == status and error_code(r) == code
    assert r.headers["X-Request-ID"] == REQUEST_ID


def test_a_superseded_number_answers_the_retained_record_under_its_own_id(client):
    r = read(client, "9690990454")
    assert r.status_code == 200
    patient = r.get_json()
    assert patient["id"] == "9690990462" and patient["identifier"][0]["value"] == "9690990462"
    assert patient == read(client, "9690990462").get_json()


@pytest.mark.parametrize("value,code", [(None, "MISSING_VALUE"), ("", "MISSING_VALUE"), ("1234", "INVALID_VALUE")])
def test_the_request_id_is_required_and_a_uuid(client, value, code):
    r = read(client, "9690937286", **{"X-Request-ID": value})
    assert r.status_code == 400 and error_code(r) == code


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
def test_other_methods_are_refused(client, method):
    r = client.open(f"{BASE}/Patient/9690937286", method=method, headers={"X-Request-ID": REQUEST_ID})
    assert r.status_code == 403 and error_code(r) == "INVALID_METHOD"


# --- search -----------------------------------------------------------------------------------------------
def test_search_by_family_and_birthdate(client, app):
    born = app.extensions["mockprovider"].personas.get("9690937286").data["birth_date"]
    r = search(client, f"family=Jackson&birthdate=eq{born}")
    body = r.get_json()
    Bundle.model_validate(body)
    assert r.status_code == 200 and body["type"] == "searchset" and body["total"] == 1
    assert body["entry"][0]["resource"]["id"] == "9690937286"
    assert body["entry"][0]["search"] == {"score": 1}
    assert body["entry"][0]["fullUrl"] == f"http://localhost{BASE}/Patient/9690937286"
    assert r.headers["X-Request-ID"] == REQUEST_ID


def test_search_finds_the_persona_whatever_its_birth_date(client, app):
    persona = app.extensions["mockprovider"].personas.get("9690990403")
    data = persona.data
    r = search(client, f"family=lindGREN&birthdate={data['birth_date']}&given=Ast*")
    body = r.get_json()
    assert [e["resource"]["id"] for e in body["entry"]] == ["9690990403"]
    Patient.model_validate(body["entry"][0]["resource"])
    assert search(client, f"family=Lindgren&birthdate=le1900-01-01").get_json() == \
        {"resourceType": "Bundle", "type": "searchset", "total": 0}


def test_search_never_finds_absent_or_invalidated_records_and_answers_superseded_ones_retained(client):
    assert search(client, "family=Okonjo&birthdate=1985-02-17").get_json()["total"] == 0
    assert search(client, "family=Brannigan&birthdate=1971-11-23").get_json()["total"] == 0
    found = search(client, "family=Hartley-Moss&birthdate=1996-05-05").get_json()
    assert [e["resource"]["id"] for e in found["entry"]] == ["9690990462"]


def test_a_restricted_patient_is_hidden_from_a_postcode_or_gp_search(client, app):
    data = app.extensions["mockprovider"].personas.get("9690938533").data
    base = f"family={data['name']['family']}&birthdate={data['birth_date']}"
    found = search(client, base).get_json()
    assert found["total"] == 1 and "address" not in found["entry"][0]["resource"]
    assert search(client, base + "&general-practitioner=B82617").get_json()["total"] == 0


def test_too_many_matches(client):
    r = search(client, "family=Hartley-Moss&birthdate=ge1900-01-01&_max-results=1")
    assert r.status_code == 200 and search(client, "family=Ha*&birthdate=ge1900-01-01").get_json()["total"] >= 2
    r = search(client, "family=Ha*&birthdate=ge1900-01-01&_max-results=1")
    assert r.status_code == 200 and error_code(r) == "TOO_MANY_MATCHES"


@pytest.mark.parametrize("query,code", [
    ("", "UNSUPPORTED_SERVICE"),
    ("family=Smith&birthdate=2010-10-22&colour=blue", "ADDITIONAL_PROPERTIES"),
    ("family=Smith", "MISSING_VALUE"),
    ("birthdate=2010-10-22", "INVALID_SEARCH_DATA"),
    ("family=Smith&birthdate=22-10-2010", "INVALID_VALUE"),
    ("family=Smith&birthdate=2010-10-22&gender=mal", "INVALID_VALUE"),
    ("family=S*&birthdate=2010-10-22", "INVALID_VALUE"),
    ("family=Smith&birthdate=2010-10-22&_max-results=51", "INVALID_VALUE"),
    ("family=Smith&birthdate=2010-10-22&_fuzzy-match=true", "INVALID_SEARCH_DATA"),
])
def test_search_parameter_rules(client, query, code):
    r = search(client, query)
    assert r.status_code == 400 and error_code(r) == code


# --- the token endpoint and bearer tokens --------------------------------------------------------------------
def b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def assertion(now=None, header=None, **claims):
    now = int(now or time.time())
    payload = {"iss": "app-key", "sub": "app-key", "jti": "5b8d7c1e-0001", "aud": "http://localhost/oauth2/token",
               "exp": now + 300, **claims}
    payload = {k: v for k, v in payload.items() if v is not None}
    return f"{b64(header or {'alg': 'RS512', 'typ': 'JWT', 'kid': 'test-1'})}.{b64(payload)}.c2lnbmF0dXJl"


def token_request(client, **form):
    data = {"grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion(), **form}
    return client.post("/oauth2/token", data={k: v for k, v in data.items() if v is not None})


def test_a_token(client):
    fixed = assertion(now=1_800_000_000)
    r = token_request(client, client_assertion=fixed)
    assert r.status_code == 200 and r.content_type.startswith("application/json")
    body = r.get_json()
    assert set(body) == {"access_token", "expires_in", "token_type", "issued_at"}
    assert (body["expires_in"], body["token_type"], body["issued_at"]) == ("599", "Bearer", "1800000000000")
    assert token_request(client, client_assertion=fixed).get_json() == body     # the same assertion, the same token


@pytest.mark.parametrize("form,status,error", [
    ({"grant_type": None}, 400, "invalid_request"),
    ({"grant_type": "password"}, 400, "unsupported_grant_type"),
    ({"client_assertion_type": "jwt"}, 400, "invalid_request"),
    ({"client_assertion": None}, 400, "invalid_request"),
    ({"client_assertion": "not-a-jwt"}, 400, "invalid_request"),
])
def test_token_request_errors(client, form, status, error):
    r = token_request(client, **form)
    assert r.status_code == status
    body = r.get_json()
    assert body["error"] == error and body["error_description"] and body["message_id"]


def test_the_token_endpoint_needs_a_form_post(client):
    assert client.get("/oauth2/token").status_code == 405
    assert client.post("/oauth2/token", json={"grant_type": "client_credentials"}).status_code == 400


@pytest.mark.parametrize("change,why", [
    ({"header": {"alg": "RS512"}}, "kid"),
    ({"header": {"alg": "HS256", "kid": "k"}}, "alg"),
    ({"sub": "other"}, "iss/sub"),
    ({"jti": None}, "jti"),
    ({"aud": "https://elsewhere/oauth2/token"}, "aud"),
    ({"exp": None}, "exp"),
    ({"exp": int(time.time()) - 60}, "expired"),
    ({"exp": int(time.time()) + 3600}, "5 minutes"),
])
def test_the_strict_mode_checks_the_client_assertion(client, control, change, why):
    control.update_flags({"pds_auth": "required"})
    header = change.pop("header", None)
    r = token_request(client, client_assertion=assertion(header=header, **change))
    assert r.status_code in (400, 401) and why in r.get_json()["error_description"]


def test_the_bearer_is_lenient_by_default_and_required_in_the_strict_mode(client, control):
    assert read(client, "9690937286").status_code == 200                                   # no token
    assert read(client, "9690937286", Authorization="Bearer anything").status_code == 200
    r = read(client, "9690937286", Authorization="Basic abc")
    assert r.status_code == 401 and error_code(r) == "ACCESS_DENIED"                       # not a bearer at all
    control.update_flags({"pds_auth": "required"})
    assert error_code(read(client, "9690937286")) == "ACCESS_DENIED"
    assert read(client, "9690937286", Authorization="Bearer anything").status_code == 401
    token = token_request(client).get_json()["access_token"]
    assert read(client, "9690937286", Authorization=f"Bearer {token}").status_code == 200
    assert search(client, "family=Jackson&birthdate=ge1900-01-01", Authorization=f"Bearer {token}").status_code == 200
    client.post("/_control/reset")
    assert read(client, "9690937286").status_code == 200


def test_an_expired_token_is_refused(client, control):
    control.update_flags({"pds_auth": "required"})
    old = int(time.time()) - 1000
    from mockprovider.interactions.pds import issue_token
    body, _ = issue_token({"grant_type": "client_credentials",
                           "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                           "client_assertion": assertion(now=old)}, strict=False, token_url="x")
    r = read(client, "9690937286", Authorization=f"Bearer {body['access_token']}")
    assert r.status_code == 401 and "expired" in r.get_json()["issue"][0]["diagnostics"]


def test_the_journal_keeps_the_lookup_headers_never_a_token(client):
    token = token_request(client).get_json()["access_token"]
    read(client, "9690939114", Authorization=f"Bearer {token}", **{"X-Correlation-ID": "c-9"})
    rows = client.get("/_control/requests").get_json()
    read_row = next(r for r in rows if r["interaction"] == "pds_read_patient")
    assert read_row["headers"]["X-Request-ID"] == REQUEST_ID and read_row["bearer_sent"] is True
    assert read_row["nhs_number"] == "9690939114" and read_row["status"] == 200
    token_row = next(r for r in rows if r["interaction"] == "pds_token")
    assert token_row["query"] == [["grant_type", "client_credentials"],
                                  ["client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]]
    everything = json.dumps(client.get("/_control/state").get_json())
    assert token not in everything and assertion().split(".")[1] not in everything


def test_a_fault_rule_matches_a_pds_read_by_nhs_number(client):
    client.post("/_control/faults", json={"kind": "error", "status": 503, "times": 1,
                                          "match": {"interaction": "pds_read_patient", "nhs_number": "9690937286"}})
    r = read(client, "9690937286")
    assert r.status_code == 503 and error_code(r) == "UNKNOWN_ERROR"
    assert read(client, "9690937286").status_code == 200


def test_the_same_read_gives_the_same_bytes(client):
    assert read(client, "9690990403").data == read(client, "9690990403").data
