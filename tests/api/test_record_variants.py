"""Every clinical variant of issue 13 is in a built-in persona and shows in the rendered Bundle.

Expected values are transcribed from the 1.6.2 pages (pages/accessrecord_structured/...), the
NHS StructureDefinitions and CodeSystems (STU3-FHIR-Assets, CareConnect-profiles), never taken
from the code. Each test migrates the persona over HTTP and looks for the variant; the structural
checks every Bundle must pass (tests/structured_checks.py) run over each one too.
"""
import json

import pytest

from tests import helpers as h
from tests.structured_checks import check_bundle

URL = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"
TRANSIT, LINKED, MEDICATIONS, CHILD = "9690990039", "9690990047", "9690990055", "9690990063"

# accessrecord_structured_development_lists_for_message_structure.md, "Warning codes".
CONFIDENTIAL_TEXT = "Items excluded due to confidentiality and/or patient preferences."
TRANSIT_TEXT = ("Patient record transfer from previous GP practice not yet complete; information recorded "
                "before 14-Sep-2026 may be missing.")
FILING_TEXT = ("Patient record contains some items in the GP practice workflow that have not been reviewed for "
               "inclusion in this message; information recorded before 28-Sep-2026 may be missing.")
WARNING_URL = "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-ListWarningCode-1"
EMPTY_NOTE = "Information not available"
SD = "https://fhir.nhs.uk/STU3/StructureDefinition/"
HL7UK = "https://fhir.hl7.org.uk/STU3/StructureDefinition/"


@pytest.fixture
def migrate(client):
    def run(nhs, sensitive=False):
        headers = h.migrate_headers(sensitive)
        r = client.post(URL, data=json.dumps(h.migrate_body(nhs, sensitive)), headers=headers)
        assert r.status_code == 200, r.data[:500]
        bundle = r.get_json()
        check_bundle(bundle, headers["Ssp-TraceID"])
        return bundle
    return run


def resources(bundle, kind=None):
    out = []
    for entry in bundle["entry"]:
        r = entry["resource"]
        for x in [r, *r.get("contained", [])]:
            if kind is None or x["resourceType"] == kind:
                out.append(x)
    return out


def by_id(bundle):
    return {f"{r['resourceType']}/{r['id']}": r for r in resources(bundle) if "id" in r}


def list_titled(bundle, title):
    found = [r for r in resources(bundle, "List") if r.get("title") == title]
    assert len(found) == 1, f"{title!r}: {len(found)} Lists"
    return found[0]


def warnings(lst):
    return [e["valueCode"] for e in lst.get("extension", []) if e["url"] == WARNING_URL]


def ext(resource, url):
    return [e for e in resource.get("extension", []) if e["url"] == url]


def coded(resource, code):
    return any(c.get("code") == code for c in resource.get("code", {}).get("coding", []))


def one(items):
    items = list(items)
    assert len(items) == 1, items
    return items[0]


# --- Lists: warnings and empty reasons ---------------------------------------------------------------------
PRIMARY_TITLES = ("List of consultations", "Problems", "Allergies and adverse reactions", "Ended allergies",
                  "Medications and medical devices", "Uncategorised data", "Immunisations",
                  "Investigations and results", "Outbound referral", "Patient recall administration")


def test_data_in_transit_on_every_primary_and_secondary_list(migrate):
    bundle = migrate(TRANSIT)
    record_lists = [r for r in resources(bundle, "List") if "id" not in r]
    assert {r["title"] for r in record_lists} >= set(PRIMARY_TITLES)
    assert any(r["title"].startswith("Problems - ") for r in record_lists)
    for lst in record_lists:
        assert "data-in-transit" in warnings(lst), lst["title"]
        assert len(lst["note"]) == 1 and TRANSIT_TEXT in lst["note"][0]["text"]


def test_awaiting_filing_only_on_its_area_with_several_warnings_in_one_note(migrate):
    bundle = migrate(TRANSIT)
    investigations = list_titled(bundle, "Investigations and results")
    assert warnings(investigations) == ["data-in-transit", "data-awaiting-filing"]
    assert investigations["note"] == [{"text": f"{TRANSIT_TEXT} {FILING_TEXT} {EMPTY_NOTE}"}]
    assert "data-awaiting-filing" not in warnings(list_titled(bundle, "Problems"))


def test_empty_area_with_each_reason(migrate):
    bundle = migrate(TRANSIT)
    empty_reason = {"system": "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-ListEmptyReasonCode-1",
                    "code": "no-content-recorded", "display": "No Content Recorded"}
    # nothing recorded (while the record is in transit)
    immunisations = list_titled(bundle, "Immunisations")
    assert "entry" not in immunisations and immunisations["emptyReason"]["coding"] == [empty_reason]
    assert immunisations["note"] == [{"text": f"{TRANSIT_TEXT} {EMPTY_NOTE}"}]
    # every item confidential
    uncategorised = list_titled(bundle, "Uncategorised data")
    assert warnings(uncategorised) == ["confidential-items", "data-in-transit"]
    assert uncategorised["note"] == [{"text": f"{CONFIDENTIAL_TEXT} {TRANSIT_TEXT} {EMPTY_NOTE}"}]
    assert uncategorised["emptyReason"]["coding"] == [empty_reason]
    # sent with the item when the consumer may see it
    assert "entry" in list_titled(migrate(TRANSIT, sensitive=True), "Uncategorised data")


# --- Secondary Lists and problems ----------------------------------------------------------------------------
def test_ended_allergy_related_to_a_problem_and_contained_in_a_consultation(migrate):
    bundle = migrate(LINKED)
    ended = list_titled(bundle, "Ended allergies")
    allergy = one(ended["contained"])
    assert allergy["clinicalStatus"] == "resolved"
    ref = f"List/{ended['id']}#{allergy['id']}"
    related = list_titled(bundle, "Problems - allergies that have been ended related to problems")
    contained = list_titled(bundle, "Consultations - allergies that have been ended contained in consultations")
    assert related["entry"] == [{"item": {"reference": ref}}] and contained["entry"] == [{"item": {"reference": ref}}]
    for lst in (related, contained):
        assert lst["code"]["coding"][0]["code"] == lst["title"].lower().replace(" - ", "-").replace(" ", "-")
    tonsillitis = one(c for c in resources(bundle, "Condition") if coded(c, "90176007"))
    assert {"reference": ref} in [e["valueReference"] for e in ext(tonsillitis, HL7UK + "Extension-CareConnect-RelatedClinicalContent-1")]


def test_problem_links_parent_child_sibling_both_ways(migrate):
    bundle = migrate(LINKED, sensitive=True)
    conditions = {c["code"]["coding"][0]["code"]: c for c in resources(bundle, "Condition")}
    url = HL7UK + "Extension-CareConnect-RelatedProblemHeader-1"

    def links(code):
        return sorted((next(p["valueCode"] for p in e["extension"] if p["url"] == "type"),
                       next(p["valueReference"]["reference"] for p in e["extension"] if p["url"] == "target"))
                      for e in ext(conditions[code], url))

    ref = {code: f"Condition/{c['id']}" for code, c in conditions.items()}
    assert links("44054006") == sorted([("child", ref["230572002"]), ("sibling", ref["38341003"]),
                                        ("sibling", ref["35489007"])])
    assert links("230572002") == [("parent", ref["44054006"])]
    assert links("38341003") == [("sibling", ref["44054006"])]


def test_confidential_linked_problem_shows_the_linked_problems_list(migrate):
    bundle = migrate(LINKED)
    lst = list_titled(bundle, "Problems - linked problems not relating to the primary query")
    assert warnings(lst) == ["confidential-items"] and "entry" not in lst
    assert not any(coded(c, "35489007") for c in resources(bundle, "Condition"))
    diabetes = one(c for c in resources(bundle, "Condition") if coded(c, "44054006"))
    assert len(ext(diabetes, HL7UK + "Extension-CareConnect-RelatedProblemHeader-1")) == 2
    titles = {r.get("title") for r in resources(migrate(LINKED, sensitive=True), "List")}
    assert "Problems - linked problems not relating to the primary query" not in titles


def test_actual_problem_and_problems_linked_to_every_kind_of_item(migrate):
    bundle = migrate(LINKED)
    index = by_id(bundle)
    rhinitis = one(c for c in resources(bundle, "Condition") if coded(c, "21719001"))
    actual = one(ext(rhinitis, SD + "Extension-CareConnect-GPC-ActualProblem-1"))
    assert index[actual["valueReference"]["reference"]]["resourceType"] == "Observation"
    # the item the problem was raised from is in the problems' uncategorised secondary List
    uncategorised = list_titled(bundle, "Problems - uncategorised data related to problems")
    assert actual["valueReference"] in [e["item"] for e in uncategorised["entry"]]
    linked_kinds = set()
    for condition in resources(bundle, "Condition"):
        for e in ext(condition, HL7UK + "Extension-CareConnect-RelatedClinicalContent-1"):
            reference = e["valueReference"]["reference"]
            linked_kinds.add("AllergyIntolerance (ended)" if "#" in reference else index[reference]["resourceType"])
    assert linked_kinds >= {"AllergyIntolerance", "AllergyIntolerance (ended)", "MedicationRequest", "Immunization",
                            "Observation", "DiagnosticReport", "ReferralRequest", "ProcedureRequest", "Encounter"}
    statuses = {(c["clinicalStatus"], one(ext(c, HL7UK + "Extension-CareConnect-ProblemSignificance-1"))["valueCode"])
                for c in resources(bundle, "Condition")}
    assert statuses >= {("active", "major"), ("active", "minor"), ("inactive", "minor")}


def test_topics_link_problems_and_their_items(migrate):
    bundle = migrate(LINKED)
    diabetes = one(c for c in resources(bundle, "Condition") if coded(c, "44054006"))
    topic = one(r for r in resources(bundle, "List") if r.get("title") == "Type 2 diabetes mellitus")
    assert one(ext(topic, HL7UK + "Extension-CareConnect-RelatedProblemHeader-1"))["extension"] == [
        {"url": "target", "valueReference": {"reference": f"Condition/{diabetes['id']}"}}]
    # the weight recorded under the topic's examination heading is linked to the problem
    index = by_id(bundle)
    linked = [index[e["valueReference"]["reference"]] for e in
              ext(diabetes, HL7UK + "Extension-CareConnect-RelatedClinicalContent-1") if "#" not in e["valueReference"]["reference"]]
    assert any(r["resourceType"] == "Observation" and coded(r, "27113001") for r in linked)


# --- Consultations ---------------------------------------------------------------------------------------
def test_consultation_variants(migrate):
    bundle = migrate(LINKED)
    encounters = resources(bundle, "Encounter")
    draft = one(e for e in encounters if e["status"] == "unknown")          # Encounter page: draft -> unknown
    assert draft["period"]["start"].startswith("2026-09-29")
    free_text = one(e for e in encounters if "text" in e["type"][0])
    assert free_text["type"] == [{"text": "Telephone triage (nurse led)"}]
    review = one(e for e in encounters if "length" in e)
    assert review["period"] == {"start": "2026-03-02T09:10:00+00:00", "end": "2026-03-02T09:32:00+00:00"}
    assert review["length"] == {"value": 22, "unit": "min", "system": "http://unitsofmeasure.org", "code": "min"}
    location = by_id(bundle)[review["location"][0]["location"]["reference"]]
    assert location["resourceType"] == "Location"
    roles = [(p["type"][0]["coding"][0]["code"], p["individual"]["reference"]) for p in review["participant"]]
    assert [code for code, _ in roles] == ["REC", "PPRF", "PART"]
    registrar = by_id(bundle)[roles[2][1]]
    assert registrar["resourceType"] == "Practitioner" and registrar["name"][0]["family"] == "Okonjo"


def test_topic_without_headings_and_headings_without_topic(migrate):
    bundle = migrate(LINKED)
    index = by_id(bundle)
    topics = [r for r in resources(bundle, "List") if r["code"]["coding"][0]["code"] == "25851000000105"]
    flat = one(t for t in topics if t.get("title") == "Hay fever")
    assert all(index[e["item"]["reference"]]["resourceType"] != "List" for e in flat["entry"])
    untitled = one(t for t in topics if "title" not in t)
    headings = [index[e["item"]["reference"]] for e in untitled["entry"]]
    assert headings and all(x["code"]["coding"][0]["code"] == "24781000000107" for x in headings)


# --- Allergies -------------------------------------------------------------------------------------------
def test_allergy_variants(migrate):
    bundle = migrate(LINKED)
    allergies = resources(bundle, "AllergyIntolerance")
    intolerance = one(a for a in allergies if a["type"] == "intolerance")
    assert intolerance["criticality"] == "low"
    assert {a.get("criticality") for a in allergies} >= {"low", "high", "unable-to-assess"}
    degraded = one(a for a in allergies if coded(a, "196461000000101"))
    assert degraded["code"]["text"].startswith("Allergic to elastoplast")
    ended = one(a for a in allergies if a["clinicalStatus"] == "resolved")
    end = one(ext(ended, SD + "Extension-CareConnect-GPC-AllergyIntoleranceEnd-1"))
    assert {p["url"] for p in end["extension"]} == {"endDate", "reasonEnded"}
    # recorded in a consultation: the profile's encounter slice
    in_consultation = one(a for a in allergies if coded(a, "91935009"))
    reference = one(ext(in_consultation, "http://hl7.org/fhir/StructureDefinition/encounter-associatedEncounter"))
    assert by_id(bundle)[reference["valueReference"]["reference"]]["resourceType"] == "Encounter"


# --- Medications -----------------------------------------------------------------------------------------
def plans(bundle):
    index = by_id(bundle)
    return {index[r["medicationReference"]["reference"]]["code"]["coding"][0]["code"]: r
            for r in resources(bundle, "MedicationRequest") if r["intent"] == "plan"}


def prescription_type(request):
    return one(ext(request, SD + "Extension-CareConnect-GPC-PrescriptionType-1"))["valueCodeableConcept"]["coding"][0]


def test_stopped_and_discontinued_plans_carry_their_status_reason(migrate):
    plan = plans(migrate(MEDICATIONS))
    for code, reason in (("320006003", "Muscle aches: changed to atorvastatin"),
                         ("321745007", "Discontinued: no longer needed")):
        assert plan[code]["status"] == "stopped"
        parts = {p["url"]: p for p in one(ext(plan[code], SD + "Extension-CareConnect-GPC-MedicationStatusReason-1"))["extension"]}
        assert parts["statusReason"]["valueCodeableConcept"]["text"] == reason
        assert "valueDateTime" in parts["statusChangeDate"]


def test_prescription_types_use_the_code_system(migrate):
    plan = plans(migrate(MEDICATIONS))
    # CodeSystem-CareConnect-PrescriptionType-1
    assert prescription_type(plan["320818006"]) == {"system": "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-PrescriptionType-1",
                                                   "code": "repeat-dispensing", "display": "Repeat dispensing"}
    assert prescription_type(plan["323509004"])["code"] == "delayed-prescribing"
    assert prescription_type(plan["323509004"])["display"] == "Delayed prescribing"


def test_plan_without_issues_reauthorisation_and_prescribed_elsewhere(migrate):
    bundle = migrate(MEDICATIONS)
    plan = plans(bundle)
    orders = [r for r in resources(bundle, "MedicationRequest") if r["intent"] == "order"]
    metformin = plan["325278007"]
    assert not [o for o in orders if o["basedOn"][0]["reference"] == f"MedicationRequest/{metformin['id']}"]
    repeat = {p["url"]: p for p in one(ext(metformin, SD + "Extension-CareConnect-GPC-MedicationRepeatInformation-1"))["extension"]}
    assert repeat["numberOfRepeatPrescriptionsIssued"]["valueUnsignedInt"] == 0
    omeprazole = [p for p in resources(bundle, "MedicationRequest") if p["intent"] == "plan"
                  and by_id(bundle)[p["medicationReference"]["reference"]]["code"]["coding"][0]["code"] == "317291008"]
    new = one(p for p in omeprazole if "priorPrescription" in p)
    old = one(p for p in omeprazole if "priorPrescription" not in p)
    assert new["priorPrescription"] == {"reference": f"MedicationRequest/{old['id']}"}
    statement = one(s for s in resources(bundle, "MedicationStatement")
                    if s["basedOn"][0]["reference"] == f"MedicationRequest/{plan['39113611000001102']['id']}")
    agency = one(ext(statement, SD + "Extension-CareConnect-GPC-PrescribingAgency-1"))["valueCodeableConcept"]
    assert agency["coding"][0]["code"] == "prescribed-by-another-organisation"
    # MedicationStatement page: no lastIssueDate for prescribed elsewhere / repeat dispensing
    assert not ext(statement, SD + "Extension-CareConnect-GPC-MedicationStatementLastIssueDate-1")


def test_structured_dosage_supply_duration_and_eps_identifiers(migrate):
    bundle = migrate(MEDICATIONS)
    plan = plans(bundle)["320030001"]
    dosage = one(plan["dosageInstruction"])
    assert dosage["text"] == "One tablet once a day at night"
    assert dosage["patientInstruction"] == "Take at night. Avoid grapefruit juice."
    assert dosage["timing"]["repeat"] == {"frequency": 1, "period": 1, "periodUnit": "d"}
    assert dosage["route"]["coding"][0]["code"] == "26643006" and dosage["doseQuantity"]["value"] == 1
    orders = [r for r in resources(bundle, "MedicationRequest")
              if r["intent"] == "order" and r["basedOn"][0]["reference"] == f"MedicationRequest/{plan['id']}"]
    assert len(orders) == 2
    for order in orders:
        assert order["dispenseRequest"]["expectedSupplyDuration"] == {
            "value": 28, "unit": "day", "system": "http://unitsofmeasure.org", "code": "d"}
        assert any(i["system"] == "https://fhir.nhs.uk/Id/prescription-order-item-number" for i in order["identifier"])
        assert order["groupIdentifier"]["system"] == "https://fhir.nhs.uk/Id/prescription-order-number"


def test_medication_code_degraded_in_transfer(migrate):
    bundle = migrate(MEDICATIONS)
    medication = one(m for m in resources(bundle, "Medication") if coded(m, "196421000000109"))
    assert medication["code"]["coding"][0]["display"] == "Transfer-degraded medication entry"
    assert medication["code"]["text"].startswith("Co-codamol")


# --- Immunisations ---------------------------------------------------------------------------------------
def test_immunisation_given_with_its_details(migrate):
    bundle = migrate(CHILD)
    mmr = one(i for i in resources(bundle, "Immunization") if i["notGiven"] is False)
    assert one(ext(mmr, HL7UK + "Extension-CareConnect-ParentPresent-1"))["valueBoolean"] is True
    assert mmr["lotNumber"] == "MMR17A042" and mmr["expirationDate"] == "2018-01-31"
    assert mmr["manufacturer"] == {"display": "GlaxoSmithKline UK Ltd"}
    assert mmr["site"]["coding"][0]["code"] == "368208006" and mmr["route"]["coding"][0]["code"] == "78421000"
    roles = {p["role"]["coding"][0]["code"]: p for p in mmr["practitioner"]}
    assert roles["AP"]["role"]["coding"][0] == {"system": "http://hl7.org/fhir/v2/0443", "code": "AP",
                                                "display": "Administering Provider"}
    assert roles["EP"]["role"]["coding"][0]["display"] == "Entering Provider"
    assert roles["AP"]["actor"] != roles["EP"]["actor"]


def test_immunisation_not_given_with_reason(migrate):
    bundle = migrate(CHILD)
    flu = one(i for i in resources(bundle, "Immunization") if i["notGiven"] is True)
    assert flu["explanation"] == {"reasonNotGiven": [{"coding": [
        {"system": "http://snomed.info/sct", "code": "213257006", "display": "Generally unwell"}]}]}
    for absent in ("site", "route", "doseQuantity", "vaccinationProtocol"):   # Immunization page: MUST be absent
        assert absent not in flu


def test_consent_and_dissent_observations_in_the_immunisations_list(migrate):
    bundle = migrate(CHILD)
    index = by_id(bundle)
    entries = [index[e["item"]["reference"]] for e in list_titled(bundle, "Immunisations")["entry"]]
    observations = {o["code"]["coding"][0]["code"]: o for o in entries if o["resourceType"] == "Observation"}
    assert set(observations) == {"310375005", "310376006"}
    assert observations["310376006"]["effectivePeriod"] == {"start": "2019-09-02", "end": "2025-10-01"}
    uncategorised = list_titled(bundle, "Uncategorised data")
    assert not {e["item"]["reference"] for e in uncategorised.get("entry", [])} & {
        f"Observation/{o['id']}" for o in observations.values()}


# --- Investigations --------------------------------------------------------------------------------------
def test_lab_report_variants(migrate):
    bundle = migrate(CHILD, sensitive=True)
    index = by_id(bundle)
    report = one(resources(bundle, "DiagnosticReport"))
    lab = index[report["performer"][0]["actor"]["reference"]]
    assert lab["resourceType"] == "Organization" and lab["identifier"][0]["value"] == "RR8"
    assert report["category"]["coding"][0] == {"system": "http://hl7.org/fhir/v2/0074", "code": "HM",
                                               "display": "Hematology"}
    assert report["conclusion"].startswith("Microcytic picture")
    specimen = index[report["specimen"][0]["reference"]]
    assert specimen["accessionIdentifier"] == {"value": "LT26/0812345"}
    results = [index[r["reference"]] for r in report["result"]]
    group = one(r for r in results if any(x["type"] == "has-member" for x in r.get("related", [])))
    members = [index[x["target"]["reference"]] for x in group["related"]]
    for member in members:   # test result page: related 'derived-from' the group header
        assert {"type": "derived-from", "target": {"reference": f"Observation/{group['id']}"}} in member["related"]
        assert member["performer"] == [report["performer"][0]["actor"]]
    flags = {m["code"]["coding"][0]["code"]: m["interpretation"]["coding"][0]["code"] for m in members}
    assert flags == {"1022431000000105": "L", "1022541000000102": "N", "1022651000000100": "H"}
    hb = one(m for m in members if coded(m, "1022431000000105"))
    assert hb["referenceRange"][0]["low"]["value"] == 115 and hb["comment"] == "Repeat in 3 months"
    crp = one(r for r in results if coded(r, "1001371000000100"))
    assert crp["referenceRange"] == [{"text": "<5"}]
    ferritin = one(r for r in results if coded(r, "993381000000106"))
    # a numeric result (the pathology guidance scopes investigations to EDIFACT results; result documents
    # are out of scope), interpretation A (v2 0078 Abnormal); the lab report stays a DocumentReference
    assert ferritin["valueQuantity"] == {"value": 9, "unit": "ug/L", "system": "http://unitsofmeasure.org",
                                         "code": "ug/L"}
    assert ferritin["interpretation"]["coding"][0]["code"] == "A" and "valueAttachment" not in ferritin
    assert any(d["description"] == "Laboratory report: serum ferritin" for d in resources(bundle, "DocumentReference"))


EDGE = "9690990209"     # the GP2GP edge case: a test result whose value is a document


def test_a_result_carrying_a_document_is_the_edge_case_persona(migrate, client):
    """A result's ``document`` (persona format) is its valueAttachment, which the test result page allows
    ('a quantity, string or an attachment'). The built-in persona showing it is tagged gp2gp-edge-case:
    the NHS GP2GP adaptor cannot map an Attachment value (personas/README.md, Clinical variants)."""
    bundle = migrate(EDGE, sensitive=True)
    result = one(x for x in resources(bundle, "Observation") if coded(x, "993381000000106"))
    attachment = result["valueAttachment"]
    assert "valueQuantity" not in result and attachment["contentType"] == "text/plain"
    assert "/documents/" in attachment["url"] and "/Binary/" in attachment["url"]
    path = "/" + attachment["url"].split("://", 1)[1].split("/", 1)[1]
    r = client.get(path, headers=h.headers(h.RETRIEVE_DOCUMENT, h.claims()))
    assert r.status_code == 200 and r.get_json()["resourceType"] == "Binary"
    hb = one(x for x in resources(bundle, "Observation") if coded(x, "1022431000000105"))
    assert hb["valueQuantity"]["code"] == "g/L"


# --- Referrals -------------------------------------------------------------------------------------------
def test_referral_variants(migrate):
    bundle = migrate(CHILD, sensitive=True)
    index = by_id(bundle)
    referral = one(resources(bundle, "ReferralRequest"))
    assert {"system": "https://fhir.nhs.uk/Id/UBRN", "value": "000123456789"} in referral["identifier"]
    assert referral["priority"] == "urgent"
    assert index[referral["recipient"][0]["reference"]]["identifier"][0]["value"] == "RR8"
    kinds = sorted(index[s["reference"]]["resourceType"] for s in referral["supportingInfo"])
    assert kinds == ["DiagnosticReport", "DocumentReference", "Observation"]


# --- Uncategorised -------------------------------------------------------------------------------------------
def test_uncategorised_hierarchy(migrate):
    bundle = migrate(CHILD)
    observations = {o["code"]["coding"][0]["code"]: o for o in resources(bundle, "Observation")}
    bmi = observations["60621009"]
    assert sorted(x["target"]["reference"] for x in bmi["related"] if x["type"] == "has-member") == sorted(
        f"Observation/{observations[c]['id']}" for c in ("27113001", "50373000"))
    for child in ("27113001", "50373000"):
        assert observations[child]["related"] == [{"type": "derived-from",
                                                    "target": {"reference": f"Observation/{bmi['id']}"}}]


def test_blood_pressure_is_one_observation_with_components(migrate):
    bp = one(o for o in resources(migrate(LINKED), "Observation") if coded(o, "163020007"))
    assert [c["code"]["coding"][0]["code"] for c in bp["component"]] == ["72313002", "1091811000000102"]
    assert all(c["valueQuantity"]["code"] == "mm[Hg]" for c in bp["component"])


# --- Documents -------------------------------------------------------------------------------------------
def test_confidential_unlinked_document(migrate):
    """Sent only with includeSensitiveInformation=true, linked to nothing; left out silently otherwise:
    documents have no primary List and this one is in no secondary List, so no List would have held it
    (the lists page: warnings go on the Lists an item would have appeared in)."""
    def note_references(bundle):
        return [r for r in resources(bundle, "DocumentReference") if r["description"] == "Safeguarding review note"]
    sensitive = migrate(CHILD, sensitive=True)
    document = one(note_references(sensitive))
    assert "encounter" not in document["context"] and "related" not in document["context"]
    listed = {e["item"]["reference"] for r in resources(sensitive, "List") for e in r.get("entry", [])}
    assert f"DocumentReference/{document['id']}" not in listed
    standard = migrate(CHILD)
    assert not note_references(standard)
    assert all(r["resourceType"] != "List" or "confidential-items" not in warnings(r) for r in resources(standard))


# --- Terminology ------------------------------------------------------------------------------------------
def _verhoeff_ok(number: str) -> bool:
    """The Verhoeff check digit every SNOMED CT (and dm+d) identifier carries."""
    d = [[(j + k) % 5 if j < 5 and k < 5 else 5 + (j + k) % 5 if j < 5 else 5 + (j - k) % 5 if k < 5
          else (j - k) % 5 for k in range(10)] for j in range(10)]
    p = [list(range(10))]
    for _ in range(7):
        p.append([[1, 5, 7, 6, 2, 8, 3, 0, 9, 4][x] for x in p[-1]])
    check = 0
    for i, digit in enumerate(reversed(number)):
        check = d[check][p[i % 8][int(digit)]]
    return check == 0


def test_the_verhoeff_check_itself():
    assert _verhoeff_ok("2363") and not _verhoeff_ok("2364")
    assert _verhoeff_ok("195967001") and _verhoeff_ok("1091811000000102") and not _verhoeff_ok("195967002")


@pytest.mark.parametrize("nhs", [TRANSIT, LINKED, MEDICATIONS, CHILD])
def test_variant_personas_use_identifiers_with_valid_check_digits(nhs):
    import re
    from pathlib import Path
    text = (Path(__file__).resolve().parents[2] / "personas" / f"{nhs}.json").read_text()
    codes = set(re.findall(r'"(\d{6,18})\|', text))
    assert codes and [c for c in codes if not _verhoeff_ok(c)] == []
