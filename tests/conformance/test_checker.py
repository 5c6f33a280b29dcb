"""The conformance check catches each kind of breakage (issue #12: "its own tests prove each kind of
breakage is caught"). One conforming Bundle (the full-record persona, sensitive, profile readings) is
broken one way at a time; the finding must name the rule kind and the element."""
import copy

import pytest

from tests.conformance import cast, thirdparty
from tests.conformance.profiles import matches

FULL = "9690937286/sensitive"
SD = "https://fhir.nhs.uk/STU3/StructureDefinition/"


@pytest.fixture(scope="module")
def bundle(profile_cast):
    return dict(profile_cast)[FULL]


def first(bundle, kind, where=lambda r: True):
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind and where(e["resource"]))


def check(checker, bundle, resource):
    index = {f"{e['resource']['resourceType']}/{e['resource'].get('id')}": e["resource"] for e in bundle["entry"]}
    return [str(f) for f in checker.resource(resource, index)]


def test_the_unbroken_bundle_passes(checker, bundle):
    for entry in bundle["entry"]:
        found = check(checker, bundle, entry["resource"])
        assert [f for f in found if "ConditionCategory" not in f] == []   # the profile's own contradiction


def broken(bundle, kind, change, where=lambda r: True):
    b = copy.deepcopy(bundle)
    r = first(b, kind, where)
    change(r, b)
    return b, r


CASES = {
    "required element missing": ("Immunization", lambda r, b: r.pop("primarySource"),
                                 "[cardinality] Immunization.primarySource: 0 present, min 1"),
    "required slice missing": ("Immunization", lambda r, b: r.__setitem__("extension", [
        x for x in r["extension"] if "DateRecorded" not in x["url"]]),
        "[cardinality] Immunization.extension:recordedDate: 0 present, min 1"),
    "too many": ("Encounter", lambda r, b: r.__setitem__("period", [r["period"], r["period"]]),
                 "[cardinality] Encounter.period: 2 present, max 1"),
    "max 0 in a slice": ("Immunization", lambda r, b: r.__setitem__("vaccineCode", {"coding": [
        {"system": "http://snomed.info/sct", "version": "x", "code": "1", "display": "d"}]}),
                         "[cardinality] Immunization.vaccineCode.coding[0].version: must not be present (max 0)"),
    "fixed value": ("ReferralRequest", lambda r, b: r.__setitem__("status", "active"),
                    "[fixed] ReferralRequest.status: \"active\" differs from the fixed value \"unknown\""),
    "fixed value deep": ("Condition", lambda r, b: r["category"][0]["coding"][0].__setitem__(
        "system", "http://hl7.org/fhir/condition-category"), "[fixed] Condition.category[0].coding[0].system"),
    "required binding (NHS ValueSet)": ("List", lambda r, b: r["extension"].append(
        {"url": SD + "Extension-CareConnect-GPC-ListWarningCode-1", "valueCode": "no-such-warning"}),
        "'no-such-warning' is not in https://fhir.nhs.uk/STU3/ValueSet/CareConnect-ListWarningCode-1"),
    "required binding (HL7 core code)": ("AllergyIntolerance", lambda r, b: r.__setitem__("clinicalStatus", "gone"),
                                         "[binding] AllergyIntolerance.clinicalStatus: 'gone' is not in"),
    "required binding (Coding display)": ("MedicationRequest", lambda r, b: r["extension"][0][
        "valueCodeableConcept"]["coding"][0].__setitem__("display", "Acute prescription"),
        "display 'Acute prescription' is not"),
    "undefined extension URL": ("AllergyIntolerance", lambda r, b: r.setdefault("extension", []).append(
        {"url": SD + "Extension-CareConnect-GPC-Encounter-1", "valueReference": {"reference": "Encounter/x"}}),
        "Extension-CareConnect-GPC-Encounter-1 is defined by no StructureDefinition"),
    "extension value of the wrong type": ("Immunization", lambda r, b: [
        x.update({"valueString": x.pop("valueDateTime")}) for x in r["extension"] if "DateRecorded" in x["url"]],
        "valueString: only valueDateTime allowed here"),
    "extension in a context it is not defined for": ("Immunization", lambda r, b: r["extension"].append(
        {"url": "https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-CareConnect-ProblemSignificance-1",
         "valueCode": "major"}), "may not be used on Immunization.extension"),
    "nested extension misnamed": ("MedicationRequest", lambda r, b: r["extension"].append(
        {"url": SD + "Extension-CareConnect-GPC-MedicationRepeatInformation-1",
         "extension": [{"url": "numberOfRepeatsAllowed", "valueUnsignedInt": 3}]}),
        "numberOfRepeatsAllowed is defined by no StructureDefinition"),
    "element the profile does not define": ("Observation", lambda r, b: r.__setitem__("flavour", "x"),
                                            "[unknown-element] Observation.flavour"),
    "wrong choice type": ("Observation", lambda r, b: r.__setitem__("effectiveString", "yesterday"),
                          "[type] Observation.effectiveString: type String not allowed"),
    "primitive of the wrong type": ("Immunization", lambda r, b: r.__setitem__("notGiven", "false"),
                                    "[type] Immunization.notGiven: \"false\" is not a boolean"),
    "reference to the wrong resource type": ("Observation", lambda r, b: r.__setitem__(
        "subject", {"reference": r["performer"][0]["reference"]}), "[reference] Observation.subject: Practitioner/"),
    "reference to a resource with another profile": ("Immunization", lambda r, b: first(b, "Patient")["meta"].__setitem__(
        "profile", ["https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Patient-1"]),
        "has profile CareConnect-Patient-1, not CareConnect-GPC-Patient-1"),
    "contained reference that resolves to nothing": ("List", lambda r, b: r.setdefault("entry", []).append(
        {"item": {"reference": "#nothing"}}), "#nothing names no contained resource"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_breakage_is_caught(checker, bundle, case):
    kind, change, expected = CASES[case]
    b, r = broken(bundle, kind, change)
    found = check(checker, b, r)
    assert any(expected in f for f in found), found


def test_a_max_0_bundle_element_is_caught(checker, bundle):
    b = copy.deepcopy(bundle)
    b["total"] = 3
    b["entry"][0]["search"] = {"mode": "match"}
    found = check(checker, b, b)
    assert "[cardinality] Bundle.total: must not be present (max 0) (GPConnect-StructuredRecord-Bundle-1)" in found
    assert any(f.startswith("[cardinality] Bundle.entry[0].search: must not be present") for f in found), found


def test_searchset_elements_the_profile_forbids_are_caught(checker, profile_cast):
    docs = copy.deepcopy(dict(profile_cast)[f"{cast.DOCUMENTS_PERSONA}/search-documents"])
    docs["entry"][0]["search"] = {"mode": "match"}
    found = check(checker, docs, docs)
    assert any("Bundle.entry[0].search: must not be present (max 0)" in f for f in found), found


def test_an_unknown_profile_is_caught(checker, bundle):
    r = copy.deepcopy(first(bundle, "Encounter"))
    r["meta"]["profile"] = [SD + "CareConnect-GPC-Consultation-1"]
    assert any("is not a known profile" in f for f in check(checker, bundle, r))


def test_pattern_semantics():
    # No vendored profile uses pattern[x]; the matcher is the one fixed values use, with FHIR's
    # pattern meaning: every element of the pattern is in the value, lists match by containment.
    pattern = {"coding": [{"system": "http://snomed.info/sct", "code": "123"}]}
    assert matches(pattern, {"coding": [{"system": "x", "code": "1"}, {"system": "http://snomed.info/sct",
                                                                       "code": "123", "display": "d"}]})
    assert not matches(pattern, {"coding": [{"system": "http://snomed.info/sct", "code": "124"}]})
    assert matches("true", True) and not matches("1", 2)


def test_third_party_validators_catch_their_kinds(checker, bundle):
    """FHIR.js: a required element missing, a code outside an enumerable NHS ValueSet;
    fhirpath.js: an invariant (lst-1: emptyReason only on an empty List)."""
    assert thirdparty.available(), "make test runs npm ci"
    b = copy.deepcopy(bundle)
    obs = copy.deepcopy(first(b, "Observation"))
    obs.pop("code")
    lst = copy.deepcopy(first(b, "List", lambda r: r.get("entry")))
    lst["emptyReason"] = {"coding": [{"system": "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-ListEmptyReasonCode-1",
                                      "code": "no-content-recorded", "display": "No Content Recorded"}]}
    empty = copy.deepcopy(lst)
    empty.pop("entry")
    empty["emptyReason"]["coding"][0]["code"] = "not-a-reason"
    result = thirdparty.run([("broken", obs), ("broken", lst), ("broken", empty)], checker.defs)
    messages = [(f["resourceType"], f["location"], f["message"]) for f in result["fhirjs"]]
    assert ("Observation", "Observation.code", "Missing property") in messages, messages
    assert any(kind == "List" and loc.startswith("List.emptyReason") and "not-a-reason" in msg
               for kind, loc, msg in messages), messages
    assert [(f["resourceType"], f["key"]) for f in result["fhirpath"]] == [("List", "lst-1")], result["fhirpath"]


# --- the defects an outside validator found in the cast (issue #24) -----------------------------------------
# Each breaks the conforming Bundle the way the cast once was broken; the checker (profiles.py) or the page-rule
# table (test_page_rules.RULES) must name it. Before #24 none of these was caught: the checker judged codes only
# under required bindings and the table had no row for them.
def page_findings(checker, bundle, resource):
    from tests.conformance import test_page_rules as pages
    ctx = pages.Ctx(FULL, bundle, checker.defs)
    page = pages.classify(resource, ctx)
    return [f"{rule}: {problem}" for row_page, rule, check in pages.RULES if row_page == page
            for problem in [check(resource, ctx)] if problem]


def _report_results(b):
    return {x["reference"] for e in b["entry"] if e["resource"]["resourceType"] == "DiagnosticReport"
            for x in e["resource"].get("result", [])}


def _in_report(b, pred):
    results = _report_results(b)
    return lambda r: r["resourceType"] == "Observation" and f"Observation/{r['id']}" in results and pred(r)


def _repeat_plan(r):
    return r["resourceType"] == "MedicationRequest" and r["intent"] == "plan" and any(
        c["code"] == "repeat" for x in r["extension"] if "PrescriptionType" in x["url"]
        for c in x["valueCodeableConcept"]["coding"])


DEFECTS = {
    # 1. REC in the v3 ParticipationType system (it is a GPConnect-ParticipantType-1 code)
    "recorder coded in v3 ParticipationType": (
        "Encounter", lambda r: True,
        lambda r, b: [c.__setitem__("system", "http://hl7.org/fhir/v3/ParticipationType")
                      for p in r["participant"] for t in p["type"] for c in t["coding"] if c["code"] == "REC"],
        "profile", "[terminology] Encounter.participant[0].type[0].coding[0]: 'REC' is not a code of "
                   "http://hl7.org/fhir/v3/ParticipationType"),
    # 2. a filing comment's status is the set value unknown
    "filing comment final": (
        "Observation", None, lambda r, b: r.__setitem__("status", "final"),
        "page", "status is the set value unknown: status 'final'"),
    # 3. HbA1c: the DCCT-aligned code (a percentage) paired with mmol/mol
    "HbA1c DCCT code in mmol/mol": (
        "Observation", None,
        lambda r, b: (r.__setitem__("code", {"coding": [{"system": "http://snomed.info/sct", "code": "1019431000000105",
                                                         "display": "HbA1c level (DCCT aligned)"}]}),
                      r.__setitem__("valueQuantity", {"value": 58, "unit": "mmol/mol",
                                                      "system": "http://unitsofmeasure.org", "code": "mmol/mol"}),
                      r.pop("referenceRange", None)),
        "page", "1019431000000105 is measured in %, not mmol/mol"),
    # 4. a diary entry's due date sent as authoredOn
    "diary due date as authoredOn": (
        "ProcedureRequest", lambda r: r.get("intent") == "plan",
        lambda r, b: r.__setitem__("authoredOn", r["occurrenceDateTime"]),
        "page", "authoredOn is when the entry was recorded; the due date goes in occurrence"),
    # 5. a MedicationStatement note without its prefix
    "statement note without prefix": (
        "MedicationStatement", lambda r: True,
        lambda r, b: r.__setitem__("note", [{"text": "Stopped: bleeding risk outweighs benefit"}]),
        "page", "notes without 'Patient Notes:'"),
    # 6. a repeat plan without repeatInformation
    "repeat plan without repeatInformation": (
        "MedicationRequest", _repeat_plan,
        lambda r, b: r.__setitem__("extension", [x for x in r["extension"] if "RepeatInformation" not in x["url"]]),
        "page", "a repeat plan without repeatInformation.numberOfRepeatPrescriptionsIssued"),
    # 7. a test group header performed by a Practitioner alone
    "test group header with a Practitioner only": (
        "Observation", None,
        lambda r, b: r.__setitem__("performer", [{"reference": first(b, "Practitioner")["id"] and
                                                  f"Practitioner/{first(b, 'Practitioner')['id']}"}]),
        "page", "a Practitioner performer without an Organization"),
    # 8. dispenseRequest.performer on a plan
    "dispenseRequest.performer on a plan": (
        "MedicationRequest", lambda r: r.get("intent") == "plan",
        lambda r, b: r["dispenseRequest"].__setitem__("performer", {"reference": f"Organization/{first(b, 'Organization')['id']}"}),
        "page", "dispenseRequest.performer on a plan"),
    # 9. (advice) a topic titled after a problem without relatedProblemHeader
    "topic about a problem not linked": (
        "List", None,
        lambda r, b: r.__setitem__("extension", [x for x in r.get("extension", []) if "RelatedProblemHeader" not in x["url"]]),
        "page", "is titled after a problem but has no relatedProblemHeader"),
}


def _where(case, bundle):
    if case == "filing comment final":
        return _in_report(bundle, lambda r: r["code"]["coding"][0]["code"] == "37331000000100")
    if case == "HbA1c DCCT code in mmol/mol":
        return _in_report(bundle, lambda r: "valueQuantity" in r)
    if case == "test group header with a Practitioner only":
        return _in_report(bundle, lambda r: any(x.get("type") == "has-member" for x in r.get("related", [])))
    if case == "topic about a problem not linked":
        return lambda r: r["resourceType"] == "List" and any("RelatedProblemHeader" in x["url"] for x in r.get("extension", []))
    return DEFECTS[case][1]


@pytest.mark.parametrize("case", list(DEFECTS))
def test_each_record_defect_is_caught(checker, bundle, case):
    kind, _, change, how, expected = DEFECTS[case]
    b = copy.deepcopy(bundle)
    r = first(b, kind, _where(case, b))
    before = check(checker, b, r) + page_findings(checker, b, r)
    assert not any(expected in f for f in before), f"the unbroken resource already fails: {before}"
    change(r, b)
    found = check(checker, b, r) if how == "profile" else page_findings(checker, b, r)
    assert any(expected in f for f in found), found
