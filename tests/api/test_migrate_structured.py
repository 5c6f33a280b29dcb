"""Migrate structured record: every error row (errors.md §4.1 + issue 3) and the happy paths.

The Bundle checks compare with the spec's tables (migrate-structured.md), transcribed here, never
with the code's own constants.
"""
import base64
import json
import uuid

import pytest
from tests import helpers as h
from tests.structured_checks import (CONFIDENTIAL_NOTE, NOPAT, WARNING_EXT, all_resources, check_bundle,
                                     lists_by_title)
from tests.spec_tables import assert_outcome

URL = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"
MAIN = "9690937286"
FULL_NO_DOCS = "9690937294"
SENSITIVE, DISSENT, DECEASED, UNVERIFIED, ELSEWHERE = \
    "9690938533", "9690938576", "9690938681", "9690939106", "9690939114"

SUITE_MARKED_LISTS = ("Medications and medical devices", "Uncategorised data",
                      "Problems - medications related to problems")


def migrate(client, nhs=MAIN, sensitive=False, body=None, headers=None, **claim_changes):
    return client.post(URL, data=json.dumps(body if body is not None else h.migrate_body(nhs, sensitive)),
                       headers=headers or h.migrate_headers(sensitive, **claim_changes))


def params(*parameters):
    return {"resourceType": "Parameters", "parameter": list(parameters)}


NHS_PARAM = {"name": "patientNHSNumber",
             "valueIdentifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": MAIN}}
FULL_PARAM = {"name": "includeFullRecord", "part": [{"name": "includeSensitiveInformation", "valueBoolean": False}]}


# --- errors.md §4.1: the Parameters body ----------------------------------------------------------------
@pytest.mark.parametrize("raw", [b"", b"{not json", b"[]", b'"Parameters"',
                                 json.dumps({"resourceType": "Patient"}).encode(),
                                 json.dumps({"resourceType": "Parameters", "parameter": {}}).encode(),
                                 json.dumps({"resourceType": "Parameters", "colour": "red",
                                             "parameter": [NHS_PARAM, FULL_PARAM]}).encode(),
                                 json.dumps(params(NHS_PARAM, FULL_PARAM, {"valueString": "x"})).encode()])
def test_unparseable_or_nonconforming_parameters_is_invalid_resource(client, raw):
    assert_outcome(client.post(URL, data=raw, headers=h.migrate_headers()), "INVALID_RESOURCE")


@pytest.mark.parametrize("body,named", [
    (params(), "No recognised parameter"),
    ({"resourceType": "Parameters"}, "No recognised parameter"),
    (params({"name": "includeAllergies"}), "No recognised parameter"),
    (params(FULL_PARAM), "patientNHSNumber"),                                     # patientNHSNumber absent
    (params(NHS_PARAM, FULL_PARAM, {"name": "includeImmunisations"}), "includeImmunisations"),   # M4
    (params(NHS_PARAM, FULL_PARAM, {"name": "includeMedication", "part": [
        {"name": "includePrescriptionIssues", "valueBoolean": False}]}), "includeMedication"),  # M5
    (params(NHS_PARAM, {"name": "includeFullRecord", "part": [{"name": "includeSensitiveInformation"}]}),
     "includeSensitiveInformation"),                                              # a part without a value
    (params(NHS_PARAM, {"name": "includeFullRecord", "part": [
        {"name": "includeSensitiveInformation", "valueBoolean": False},
        {"name": "includeResolvedAllergies", "valueBoolean": True}]}), "includeResolvedAllergies"),
    (params(NHS_PARAM, {"name": "includeFullRecord"}), "includeSensitiveInformation"),
    (params(NHS_PARAM), "includeFullRecord"),
    (params({"name": "patientNHSNumber"}, FULL_PARAM), "patientNHSNumber"),      # no value
    (params(NHS_PARAM, NHS_PARAM, FULL_PARAM), "patientNHSNumber"),
])
def test_parameter_errors_are_invalid_parameter_naming_it(client, body, named):
    outcome = assert_outcome(migrate(client, body=body), "INVALID_PARAMETER")
    assert named in outcome["issue"][0]["diagnostics"]


@pytest.mark.parametrize("value", ["1234567891", "969093728", "96909372860", "969093728X", "969-093-7286",
                                   "9690937285"])
def test_bad_nhs_number_is_invalid_nhs_number(client, value):
    body = h.migrate_body()
    body["parameter"][0]["valueIdentifier"]["value"] = value
    assert_outcome(migrate(client, body=body), "INVALID_NHS_NUMBER")


def test_wrong_identifier_system(client):
    body = h.migrate_body()
    body["parameter"][0]["valueIdentifier"]["system"] = "Invalid-System"
    r = migrate(client, body=body)
    assert r.status_code == 400
    assert r.get_json()["issue"][0]["details"]["coding"][0]["code"] == "INVALID_IDENTIFIER_SYSTEM"


# --- errors.md §4.1: business rules -----------------------------------------------------------------------
@pytest.mark.parametrize("nhs", ["9999999999", "9690939246"])
def test_unknown_patient_is_patient_not_found(client, app, nhs):
    if app.extensions["mockprovider"].personas.get(nhs) is not None:
        pytest.skip(f"{nhs} is a built-in persona")
    assert_outcome(migrate(client, nhs), "PATIENT_NOT_FOUND")


@pytest.mark.parametrize("nhs", [SENSITIVE, DECEASED, UNVERIFIED])
@pytest.mark.parametrize("sensitive", [False, True])
def test_sensitive_deceased_unverified_are_patient_not_found(client, nhs, sensitive):
    assert_outcome(migrate(client, nhs, sensitive), "PATIENT_NOT_FOUND")


def test_dissent_is_no_patient_consent_unless_flag_off(client, control):
    assert_outcome(migrate(client, DISSENT), "NO_PATIENT_CONSENT")
    control.update_flags({"dissent_blocks_migrate": False})
    assert migrate(client, DISSENT).status_code == 200


def test_registered_elsewhere_is_no_relationship(client):
    assert_outcome(migrate(client, ELSEWHERE), "NO_RELATIONSHIP")
    assert_outcome(migrate(client, ELSEWHERE, True), "NO_RELATIONSHIP")
    assert migrate(client, ELSEWHERE, ods="A20047").status_code == 200


def test_no_registered_practice_uses_consumer_ods_setting(tmp_path):
    from mockprovider.app import create_app
    client = create_app({"state_dir": str(tmp_path), "consumer_ods": "Y12345"}).test_client()
    assert_outcome(migrate(client), "NO_RELATIONSHIP")
    assert migrate(client, ods="Y12345").status_code == 200


@pytest.mark.parametrize("scope,sensitive", [
    ("patient/*.read conf/N", True),     # seed row
    ("patient/*.read", True),            # no conf scope means conf/N
    ("patient/*.read conf/R", False),    # assurance suite M11
])
def test_scope_and_sensitivity_conflict(client, scope, sensitive):
    assert_outcome(migrate(client, body=h.migrate_body(sensitive=sensitive),
                           headers=h.migrate_headers(sensitive, scope=scope)), "CONFLICTING_VALUES")


@pytest.mark.parametrize("changes", [{"reason": "directcare"}, {"reason": "badReason"},
                                     {"reason_for_request": None}, {"requested_scope": None}])
@pytest.mark.parametrize("sensitive", [False, True])
def test_reason_and_scope_claims_are_bad_request(client, changes, sensitive):
    payload = h.claims(**{"reason": "migration",
                          "scope": "patient/*.read conf/R" if sensitive else "patient/*.read conf/N", **changes})
    headers = h.headers(h.MIGRATE_STRUCTURED, payload, **{"Content-Type": "application/fhir+json"})
    assert_outcome(migrate(client, sensitive=sensitive, headers=headers), "BAD_REQUEST")


@pytest.mark.parametrize("sensitive", [False, True])
def test_requesting_practitioner_is_optional(client, sensitive):                 # M14, M15
    assert migrate(client, sensitive=sensitive, requesting_practitioner=None).status_code == 200


def test_migrate_ignores_enablement(client, control):
    control.update_flags({"gpconnect_enabled": False, "structured_enabled": False, "documents_enabled": False})
    assert migrate(client).status_code == 200


def test_request_order_parameters_before_business_rules(client):
    # An unknown patient with an extra parameter: the parameter error comes first.
    body = h.migrate_body("9999999999", extra=[{"name": "includeImmunisations"}])
    assert_outcome(migrate(client, body=body), "INVALID_PARAMETER")


def get_bundle(client, nhs=MAIN, sensitive=False, **claims):
    headers = h.migrate_headers(sensitive, **claims)
    r = migrate(client, nhs, sensitive, headers=headers)
    assert r.status_code == 200, r.data[:400]
    assert r.headers["Content-Type"] == "application/fhir+json;charset=utf-8"
    assert "no-store" in r.headers["Cache-Control"]
    return check_bundle(r.get_json(), headers["Ssp-TraceID"]), r.data, headers["Ssp-TraceID"]


@pytest.mark.parametrize("sensitive", [False, True])
def test_main_persona_bundle(client, sensitive):
    bundle, _, _ = get_bundle(client, sensitive=sensitive)
    kinds = {r["resourceType"] for r in all_resources(bundle)}
    for kind in ("Patient", "Organization", "Practitioner", "PractitionerRole", "Condition", "AllergyIntolerance",
                 "MedicationStatement", "MedicationRequest", "Medication", "Immunization", "Observation",
                 "DiagnosticReport", "Specimen", "ProcedureRequest", "ReferralRequest", "Encounter"):
        assert kind in kinds, kind


def _drug_names(bundle):
    return {r["code"]["coding"][0]["display"] for r in all_resources(bundle) if r["resourceType"] == "Medication"}


def _has_warning(lst):
    return [e for e in lst.get("extension", []) if e["url"] == WARNING_EXT]


def test_sensitive_excluded_marks_every_list(client):
    bundle, _, _ = get_bundle(client, sensitive=False)
    titles = lists_by_title(bundle)
    for title in SUITE_MARKED_LISTS:                     # assurance suite M1
        lst = titles[title]
        assert _has_warning(lst) == [{"url": WARNING_EXT, "valueCode": "confidential-items"}], title
        assert [n for n in lst["note"] if n["text"] == CONFIDENTIAL_NOTE] == [{"text": CONFIDENTIAL_NOTE}], title
    # Every other list the confidential items would have been in.
    for title in ("Outbound referral", "Problems - outbound referrals related to problems",
                  "Problems - uncategorised data related to problems",
                  "Consultations - medications contained in consultations",
                  "Consultations - uncategorised data contained in consultations",
                  "Consultations - outbound referrals in consultations"):
        assert _has_warning(titles[title]), title
    for title in ("Allergies and adverse reactions", "Problems", "Immunisations", "List of consultations"):
        assert not _has_warning(titles[title]), title
    # Consultation-structure Lists never carry warnings (list_consutation page: no extension but
    # relatedProblemHeader, no note); a heading whose every item was left out is not sent at all.
    structure = [r["resource"] for r in bundle["entry"] if r["resource"]["resourceType"] == "List"
                 and "encounter" in r["resource"]]
    assert structure and not any(_has_warning(r) or "note" in r or not r.get("entry") for r in structure)
    assert "Citalopram 20mg tablets" not in _drug_names(bundle)
    assert "Amlodipine 10mg tablets" in _drug_names(bundle)
    # The NOPAT record items of this persona are all confidential: none is left in the record part.
    assert all("security" not in r["meta"] for r in all_resources(bundle) if r["resourceType"] != "DocumentReference")


def test_sensitive_included(client):
    bundle, _, _ = get_bundle(client, sensitive=True)
    titles = lists_by_title(bundle)
    for title, lst in titles.items():
        assert not _has_warning(lst), title
    assert "Citalopram 20mg tablets" in _drug_names(bundle)
    # The confidential medication is linked to its problem and labelled NOPAT.
    statements = [r for r in all_resources(bundle) if r["resourceType"] == "MedicationStatement"
                  and r["meta"].get("security")]
    assert statements and all(r["meta"]["security"] == [NOPAT] for r in statements)
    related = {e["valueReference"]["reference"] for r in all_resources(bundle) if r["resourceType"] == "Condition"
               for e in r["extension"] if "RelatedClinicalContent" in e["url"]}
    # a problem links a medication through its plan MedicationRequest (problems guidance)
    assert statements[0]["basedOn"][0]["reference"] in related
    linked = {e["item"]["reference"] for e in titles["Problems - medications related to problems"]["entry"]}
    assert f"MedicationStatement/{statements[0]['id']}" in linked


@pytest.mark.parametrize("sensitive", [False, True])
def test_resolved_allergies_are_contained_in_ended_allergies(client, sensitive):
    bundle, _, _ = get_bundle(client, sensitive=sensitive)
    ended = lists_by_title(bundle)["Ended allergies"]
    assert ended["contained"]
    assert all(a["clinicalStatus"] == "resolved" for a in ended["contained"])
    assert [e["item"]["reference"] for e in ended["entry"]] == [f"#{a['id']}" for a in ended["contained"]]
    active = lists_by_title(bundle)["Allergies and adverse reactions"]
    for e in active["entry"]:
        assert e["item"]["reference"].startswith("AllergyIntolerance/")


def test_one_order_per_acute_and_plan_per_statement(client):
    bundle, _, _ = get_bundle(client, sensitive=True)
    requests = [r for r in all_resources(bundle) if r["resourceType"] == "MedicationRequest"]
    plans = {r["id"]: r for r in requests if r["intent"] == "plan"}
    for statement in (r for r in all_resources(bundle) if r["resourceType"] == "MedicationStatement"):
        plan = plans[statement["basedOn"][0]["reference"].split("/")[1]]
        orders = [r for r in requests if r["intent"] == "order"
                  and r["basedOn"] == [{"reference": f"MedicationRequest/{plan['id']}"}]]
        kind = plan["extension"][0]["valueCodeableConcept"]["coding"][0]["code"]
        if kind == "acute":
            assert len(orders) == 1
        assert orders


def test_same_request_gives_same_bytes_apart_from_bundle_id(client):
    _, first, trace1 = get_bundle(client)
    _, second, trace2 = get_bundle(client)
    assert trace1 != trace2
    assert first.replace(trace1.encode(), b"X") == second.replace(trace2.encode(), b"X")


def test_bundle_is_built_once(client, app, monkeypatch):
    from mockprovider.interactions import migrate_structured
    calls = []
    real = migrate_structured.structured_bundle
    monkeypatch.setattr(migrate_structured, "structured_bundle", lambda *a, **k: calls.append(1) or real(*a, **k))
    for _ in range(3):
        get_bundle(client)
    get_bundle(client, sensitive=True)
    assert len(calls) == 2


@pytest.mark.parametrize("mode,system", [
    ("example", "https://fhir.nhs.uk/CareConnect-NHSNumberVerificationStatus-1"),
    ("canonical", "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-NHSNumberVerificationStatus-1"),
])
def test_nhs_number_status_system_follows_flag(client, control, mode, system):
    control.update_flags({"nhs_number_status_system": mode})
    bundle, _, _ = get_bundle(client)
    patient = next(r for r in all_resources(bundle) if r["resourceType"] == "Patient")
    coding = patient["identifier"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]
    assert coding == {"system": system, "code": "01", "display": "Number present and verified"}


def test_every_rendering_persona_gives_a_valid_bundle(client, app, control):
    control.update_flags({"dissent_blocks_migrate": False})
    rendered = 0
    for persona in app.extensions["mockprovider"].personas:
        for sensitive in (False, True):
            ods = persona.registered_practice_ods or h.CONSUMER_ODS
            headers = h.migrate_headers(sensitive, ods=ods)
            r = migrate(client, persona.nhs_number, sensitive, headers=headers)
            if r.status_code != 200:
                continue
            check_bundle(r.get_json(), headers["Ssp-TraceID"])
            rendered += 1
    assert rendered >= 6


def test_full_record_without_documents_persona(client, app):
    if app.extensions["mockprovider"].personas.get(FULL_NO_DOCS) is None:
        pytest.fail(f"{FULL_NO_DOCS} (assurance suite patient3) must be a built-in persona")
    bundle, _, _ = get_bundle(client, FULL_NO_DOCS, sensitive=True)
    assert not [r for r in all_resources(bundle) if r["resourceType"] == "DocumentReference"]
    titles = lists_by_title(bundle)
    for title in ("Problems", "Medications and medical devices", "List of consultations",
                  "Investigations and results", "Immunisations", "Allergies and adverse reactions"):
        assert titles[title].get("entry"), title


def test_trace_id_in_body_is_the_request_trace_id(client):
    trace = str(uuid.uuid4())
    headers = h.migrate_headers()
    headers["Ssp-TraceID"] = trace
    r = migrate(client, headers=headers)
    assert r.get_json()["id"] == trace


# --- documents inside the Bundle --------------------------------------------------------------------------
def _document_references(bundle):
    return [r for r in all_resources(bundle) if r["resourceType"] == "DocumentReference"]


def _migrate_document_headers(sensitive):
    scope = "patient/*.read conf/R" if sensitive else "patient/*.read"
    return h.headers(h.MIGRATE_DOCUMENT, h.claims(reason="directcare", scope=scope))


@pytest.mark.parametrize("sensitive", [False, True])
def test_document_references_follow_to_the_document(client, app, sensitive):
    """Assurance suite M16/M17: every attachment.url, followed verbatim with Migrate a document."""
    bundle, _, _ = get_bundle(client, sensitive=sensitive)
    patient = next(r for r in all_resources(bundle) if r["resourceType"] == "Patient")
    persona = app.extensions["mockprovider"].personas.get(MAIN)
    docs = {d.binary_id: d for d in app.extensions["mockprovider"].personas.documents.of(persona)}
    refs = _document_references(bundle)
    expected = {b for b, d in docs.items() if sensitive or not d.confidential}
    assert refs and len(refs) == len(expected)
    base = "http://localhost/B82617/STU3/1/gpconnect/documents/fhir/Binary/"
    followed = set()
    for ref in refs:
        assert ref["meta"]["profile"] == [
            "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-DocumentReference-1"]
        assert ref["status"] == "current"
        assert ref["subject"] == {"reference": f"Patient/{patient['id']}"}
        for absent in ("docStatus", "class", "authenticator", "relatesTo"):
            assert absent not in ref
        attachment = ref["content"][0]["attachment"]
        assert "data" not in attachment
        assert attachment["size"] > 0 and attachment["contentType"]
        assert attachment["url"].startswith(base)
        binary_id = attachment["url"][len(base):]
        r = client.get(attachment["url"][len("http://localhost"):], headers=_migrate_document_headers(sensitive))
        assert r.status_code == 200, r.data[:300]
        body = r.get_json()
        assert body["resourceType"] == "Binary" and body["contentType"] == attachment["contentType"]
        assert "securityContext" not in body
        content = base64.b64decode(body["content"])
        assert content == docs[binary_id].read()
        assert len(content) == attachment["size"]
        followed.add(binary_id)
    assert followed == expected


def test_confidential_documents_only_with_sensitive(client):
    standard, _, _ = get_bundle(client, sensitive=False)
    sensitive, _, _ = get_bundle(client, sensitive=True)
    descriptions = {r["description"] for r in _document_references(sensitive)}
    assert descriptions - {r["description"] for r in _document_references(standard)} == {
        "Sexual health clinic letter (confidential)"}


def test_document_links_to_problems_and_consultations(client):
    bundle, _, _ = get_bundle(client, sensitive=True)
    titles = lists_by_title(bundle)
    linked = {e["item"]["reference"] for e in titles["Problems - documents related to problems"]["entry"]}
    contained = {e["item"]["reference"] for e in titles["Consultations - documents contained in consultations"]["entry"]}
    assert linked and contained
    for ref in linked | contained:
        assert ref.startswith("DocumentReference/")


def test_attachment_url_from_single_root_and_public_base(tmp_path):
    from mockprovider.app import create_app
    client = create_app({"state_dir": str(tmp_path / "a")}).test_client()
    headers = h.migrate_headers()
    r = client.post(h.SINGLE + "/Patient/$gpc.migratestructuredrecord", data=json.dumps(h.migrate_body()),
                    headers=headers)
    assert r.status_code == 200
    urls = [d["content"][0]["attachment"]["url"] for d in _document_references(r.get_json())]
    assert urls and all(u.startswith("http://localhost/B82617/STU3/1/gpconnect/fhir/Binary/") for u in urls)
    follow = client.get(urls[0][len("http://localhost"):], headers=_migrate_document_headers(False))
    assert follow.status_code == 200

    client = create_app({"state_dir": str(tmp_path / "b"),
                         "public_base_url": "https://mock.example:8443"}).test_client()
    r = client.post(URL, data=json.dumps(h.migrate_body()), headers=h.migrate_headers())
    urls = [d["content"][0]["attachment"]["url"] for d in _document_references(r.get_json())]
    assert urls and all(u.startswith("https://mock.example:8443/B82617/STU3/1/gpconnect/documents/fhir/Binary/")
                        for u in urls)


def test_document_over_migrate_limit_is_a_placeholder(client, control):
    bundle, _, _ = get_bundle(client, "9690937308")
    attachment = _document_references(bundle)[0]["content"][0]["attachment"]
    assert attachment["url"] and attachment["size"] == 6291456        # migrate has no 5 MB rule
    control.update_flags({"migrate_document_limit_bytes": 1000})
    bundle, _, _ = get_bundle(client, "9690937308")
    attachment = _document_references(bundle)[0]["content"][0]["attachment"]
    assert "url" not in attachment and attachment["title"] and attachment["size"] == 6291456


def test_capability_statement_lists_the_operation(client):
    r = client.get(h.STRUCTURED + "/metadata", headers=h.metadata_headers())
    rest = r.get_json()["rest"][0]
    assert any(res["type"] == "Patient" for res in rest["resource"])
    # STU3: CapabilityStatement.rest.operation (rest.resource has no operation element)
    assert {"name": "gpc.migratestructuredrecord", "definition": {"reference": (
        "https://fhir.nhs.uk/STU3/OperationDefinition/GPConnect-MigrateStructuredRecord-Operation-1")}} \
        in rest["operation"]
