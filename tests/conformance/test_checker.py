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
