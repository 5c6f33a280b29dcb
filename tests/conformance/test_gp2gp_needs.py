"""What the NHS GP2GP adaptor's EHR mappers need of each resource (issue #12): the mock must never be
the reason a real consumer cannot map a record.

Read from NHSDigital/integration-adaptor-gp2gp, service/src/main/java/uk/nhs/adaptors/gp2gp/ehr/mapper/
(each row names the mapper): the extension URLs it looks resources up by, the references it resolves,
and every field whose absence makes it throw. Each row runs over every built-in persona's Bundle in
both sensitivity modes (start-up defaults). Rows are (mapper, need, check); check returns None or what
is wrong with one resource.
"""
from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.conformance import pending

HL7UK = "https://fhir.hl7.org.uk/STU3/StructureDefinition/"
NHS = "https://fhir.nhs.uk/STU3/StructureDefinition/"
VACCINATION_PROCEDURE = HL7UK + "Extension-CareConnect-VaccinationProcedure-1"
PROBLEM_SIGNIFICANCE = HL7UK + "Extension-CareConnect-ProblemSignificance-1"
RELATED_CLINICAL_CONTENT = HL7UK + "Extension-CareConnect-RelatedClinicalContent-1"
RELATED_PROBLEM = HL7UK + "Extension-CareConnect-RelatedProblemHeader-1"
ALLERGY_END = NHS + "Extension-CareConnect-GPC-AllergyIntoleranceEnd-1"
PRESCRIPTION_TYPE = NHS + "Extension-CareConnect-GPC-PrescriptionType-1"
REPEAT_INFORMATION = NHS + "Extension-CareConnect-GPC-MedicationRepeatInformation-1"
STATUS_REASON = NHS + "Extension-CareConnect-GPC-MedicationStatusReason-1"
QUANTITY_TEXT = NHS + "Extension-CareConnect-GPC-MedicationQuantityText-1"
PRESCRIBING_AGENCY = NHS + "Extension-CareConnect-GPC-PrescribingAgency-1"
# MedicationStatementMapper: the prescription types it maps (anything else on a plan throws)
ACUTE_TYPES, REPEAT_TYPES = {"acute", "acute-handwritten"}, {"delayed-prescribing", "repeat", "repeat-dispensing"}
# EncounterComponentsMapper: what a consultation List may hold (QuestionnaireResponse is ignored)
CONSULTATION_TYPES = {"AllergyIntolerance", "Condition", "DocumentReference", "Immunization", "MedicationRequest",
                      "Observation", "ProcedureRequest", "ReferralRequest", "DiagnosticReport", "List",
                      "QuestionnaireResponse"}
CONSULTATION, TOPIC, CATEGORY = "325851000000107", "25851000000105", "24781000000107"
# A resource contained in a List, referenced as List/<list id>#<contained id>: the form the allergies guidance
# gives for ended allergies ("the primary resolved allergies list MUST be used to create any references",
# accessrecord_structured_development_allergies_guidance.md line 89). The adaptor resolves it:
# ResourceExtractor.hasId / hasIdMatchInListContainedResources (utils/ResourceExtractor.java lines 61-75;
# ResourceExtractorTest "List/ended-allergies#..."), and maps the contained resource from a topic or
# category List (EncounterComponentsMapper.java lines 68, 169-178, 211-232, 368-394). Same pattern as
# EncounterComponentsMapper.CONTAINED_RESOURCE_REFERENCE_PATTERN.
CONTAINED_IN_LIST = re.compile(r"List/([\da-zA-Z-]+)#([\da-zA-Z-]+)")


def ext(r, url):
    return [x for x in r.get("extension", []) if x.get("url") == url]


def kind(ref: str) -> str:
    return ref.split("/")[0]


class Bundle:
    def __init__(self, label, body):
        self.label = label
        self.resources = [e["resource"] for e in body["entry"]]
        self.contained = [c for r in self.resources for c in r.get("contained", [])]
        self.by_ref = {f"{r['resourceType']}/{r['id']}": r for r in self.resources if "id" in r}

    def get(self, ref):
        """The resource a reference names: a Bundle entry, or a resource contained in a List in the Bundle
        (``List/<id>#<contained id>``, see CONTAINED_IN_LIST)."""
        if ref in self.by_ref:
            return self.by_ref[ref]
        m = CONTAINED_IN_LIST.fullmatch(ref or "")
        if m:
            container = self.by_ref.get(f"List/{m[1]}") or {}
            return next((c for c in container.get("contained", []) if c.get("id") == m[2]), None)
        return None


def refs(node, out):
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            out.append(node["reference"])
        for v in node.values():
            refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)
    return out


def code_of(cc):
    return next((c.get("code") for c in (cc or {}).get("coding", [])), None)


# --- needs ----------------------------------------------------------------------------------------------
def every_reference_resolves(r, b):
    missing = [x for x in refs(r, []) if not x.startswith("#") and b.get(x) is None]
    contained = {c.get("id") for c in r.get("contained", [])}
    missing += [x for x in refs(r, []) if x.startswith("#") and x[1:] not in contained]
    return f"unresolved references {missing[:3]}" if missing else None


AGENT_PATHS = {
    "AllergyIntolerance": [("recorder",), ("asserter",)], "Condition": [("asserter",)],
    "Observation": [("performer",)], "Immunization": [("practitioner", "actor")],
    "MedicationRequest": [("recorder",), ("requester", "agent")], "ReferralRequest": [("requester", "agent")],
    "ProcedureRequest": [("requester", "agent")], "Encounter": [("participant", "individual")],
    "DiagnosticReport": [("performer", "actor")],
}


def agents_are_practitioners_or_organisations(r, b):
    bad = []
    for path in AGENT_PATHS.get(r["resourceType"], []):
        nodes = [r]
        for name in path:
            nxt = []
            for n in nodes:
                v = n.get(name) if isinstance(n, dict) else None
                nxt += v if isinstance(v, list) else ([v] if v is not None else [])
            nodes = nxt
        bad += [n["reference"] for n in nodes if isinstance(n, dict) and kind(n.get("reference", "")) not in
                ("Practitioner", "Organization")]
    return f"agent references of other types: {bad}" if bad else None


def allergy_category(r, b):
    return None if {"medication", "environment"} & set(r.get("category", [])) else "no medication/environment category"


def allergy_code(r, b):
    return None if code_of(r.get("code")) else "no code"


def allergy_end(r, b):
    if r.get("clinicalStatus") != "resolved":
        return None
    end = ext(r, ALLERGY_END)
    return None if end and any(x.get("url") == "endDate" for x in end[0].get("extension", [])) else \
        "resolved without Extension-CareConnect-GPC-AllergyIntoleranceEnd-1 endDate"


def immunisation_procedure(r, b):
    found = ext(r, VACCINATION_PROCEDURE)
    return None if found and code_of(found[0].get("valueCodeableConcept")) else \
        "no Extension-CareConnect-VaccinationProcedure-1 (HL7 UK URL) with a code"


def immunisation_vaccine_code(r, b):
    vc = r.get("vaccineCode") or {}
    return None if code_of(vc) or vc.get("text") else "no vaccineCode"


def statement_based_on_plan(r, b):
    plans = [b.get(x["reference"]) for x in r.get("basedOn", [])]
    return None if plans and all(p and p.get("intent") == "plan" for p in plans) else \
        "basedOn does not resolve to a MedicationRequest with intent plan"


def statement_prescribing_agency(r, b):
    return None if ext(r, PRESCRIBING_AGENCY) else "no PrescribingAgency extension"


def request_intent_and_status(r, b):
    if r.get("intent") not in ("plan", "order"):
        return f"intent {r.get('intent')!r}"
    return None if r.get("status") else "no status"


def request_dosage_text(r, b):
    return None if (r.get("dosageInstruction") or [{}])[0].get("text") else "no dosageInstruction[0].text"


def request_medication_resolves(r, b):
    med = b.get(r.get("medicationReference", {}).get("reference", ""))
    return None if med and med["resourceType"] == "Medication" and med.get("code") else \
        "medicationReference does not resolve to a Medication with a code"


def plan_prescription_type(r, b):
    if r.get("intent") != "plan":
        return None
    types = {c.get("code") for x in ext(r, PRESCRIPTION_TYPE) for c in x.get("valueCodeableConcept", {}).get("coding", [])}
    return None if types & (ACUTE_TYPES | REPEAT_TYPES) else f"prescription type {types or None} is one it cannot map"


def order_based_on(r, b):
    if r.get("intent") != "order":
        return None
    plans = [b.get(x["reference"]) for x in r.get("basedOn", [])]
    return None if plans and all(p and p.get("intent") == "plan" for p in plans) else "order without basedOn a plan"


def stopped_status_change_date(r, b):
    if r.get("intent") != "plan" or r.get("status") != "stopped":
        return None
    parts = {x.get("url") for e in ext(r, STATUS_REASON) for x in e.get("extension", [])}
    return None if "statusChangeDate" in parts else "stopped plan without MedicationStatusReason statusChangeDate"


def condition_asserter_practitioner(r, b):
    if "asserter" not in r:
        return None
    target = b.get(r["asserter"]["reference"])
    return None if target and target["resourceType"] == "Practitioner" else "asserter is not a Practitioner in the Bundle"


def condition_significance(r, b):
    return None if ext(r, PROBLEM_SIGNIFICANCE) else "no ProblemSignificance extension"


def condition_related_content_resolves(r, b):
    # ConditionLinkSetMapper.nonExistentResourceFilter (lines 197-209) needs getResource to find it; a
    # List/<id>#<allergy> target is found (ResourceExtractor) and then left out of the link set as a List
    # (SUPPRESSED_LINKAGE_RESOURCES, lines 54, 211-217): no failure, the link is not carried (README).
    bad = [x["valueReference"]["reference"] for x in ext(r, RELATED_CLINICAL_CONTENT)
           if b.get(x.get("valueReference", {}).get("reference")) is None]
    return f"relatedClinicalContent that does not resolve: {bad}" if bad else None


def encounter_type(r, b):
    """EncounterMapper.extractType throws only without any type (EncounterMapper.java lines 136-141); a type
    with no coding from its EHR composition vocabulary, free text only included, maps to 24591000000103
    'Other report' with type.text as originalText (lines 143-166). The Encounter page allows free text:
    "This may be a SNOMED CT code or free text" (accessrecord_structured_development_encounter.md, type)."""
    types = r.get("type") or []
    if not types:
        return "no Encounter.type"
    return None if types[0].get("coding") or types[0].get("text") else "Encounter.type with neither a coding nor text"


def consultation_list_structure(r, b):
    code = code_of(r.get("code"))
    entries = [e["item"]["reference"] for e in r.get("entry", [])]
    if code == CONSULTATION:
        bad = [x for x in entries if code_of((b.get(x) or {}).get("code")) != TOPIC]
        return f"consultation entries not coded Topic (EHR): {bad}" if bad else None
    if code in (TOPIC, CATEGORY):
        # a List/<id>#<contained> entry is the contained resource (mapResourceContainedInList); a plain List
        # entry is a Category list in a topic, and in a Category list it would be dropped unmapped
        targets = {x: b.get(x) for x in entries}
        bad = [x for x, t in targets.items() if t is None or t["resourceType"] not in CONSULTATION_TYPES
               or (CONTAINED_IN_LIST.fullmatch(x) and t["resourceType"] == "List")]
        plain = [x for x in entries if kind(x) == "List" and not CONTAINED_IN_LIST.fullmatch(x)]
        lists = [x for x in plain if code_of((b.get(x) or {}).get("code")) != CATEGORY]
        if code == CATEGORY and plain:
            return "a Category list holds a List"
        return (f"entries the mapper does not support: {bad}" if bad else None) or \
            (f"topic entries that are Lists but not Category (EHR): {lists}" if lists else None)
    return None


def consultation_list_for_each_encounter(r, b):
    lists = [x for x in b.resources if x["resourceType"] == "List" and code_of(x.get("code")) == CONSULTATION
             and x.get("encounter", {}).get("reference") == f"Encounter/{r['id']}"]
    return None if len(lists) <= 1 else "more than one consultation List for an Encounter"


def narrative_effective(r, b):
    """Every Observation: SampledData and Attachment values throw in ObservationToNarrativeStatementMapper
    (lines 43-48), ObservationStatementMapper (UNHANDLED_TYPES, lines 37, 60-66) and, for test results,
    diagnosticreport/ObservationMapper (UNHANDLED_TYPES, lines 79, 213-219)."""
    ok = r.get("effectiveDateTime") or r.get("effectivePeriod", {}).get("start") or r.get("issued")
    if not ok:
        return "no effectiveDateTime, effectivePeriod.start or issued"
    return "valueSampledData / valueAttachment" if "valueSampledData" in r or "valueAttachment" in r else None


def observation_code(r, b):
    return None if code_of(r.get("code")) else "no code"


def diary_authored_and_code(r, b):
    if r.get("intent") != "plan":
        return None
    return None if r.get("authoredOn") and code_of(r.get("code")) else "plan ProcedureRequest without authoredOn or code"


def referral_requester(r, b):
    agent = r.get("requester", {}).get("agent", {}).get("reference")
    if agent and kind(agent) not in ("Practitioner", "Organization", "Patient", "RelatedPerson", "Device"):
        return f"requester.agent {agent}"
    return None


NEEDS = [
    ("IdMapper", "every reference resolves to a resource in the Bundle (or a contained one)", None,
     every_reference_resolves),
    ("AgentDirectory", "agents (recorder, asserter, performer, requester, participant) are Practitioner or "
                       "Organization", None, agents_are_practitioners_or_organisations),
    ("AllergyStructureMapper", "category medication or environment", "AllergyIntolerance", allergy_category),
    ("AllergyStructureMapper", "a code", "AllergyIntolerance", allergy_code),
    ("AllergyStructureMapper", "a resolved allergy's end by Extension-CareConnect-GPC-AllergyIntoleranceEnd-1",
     "AllergyIntolerance", allergy_end),
    ("ImmunizationObservationStatementMapper", "Extension-CareConnect-VaccinationProcedure-1 (HL7 UK URL) with a code",
     "Immunization", immunisation_procedure),
    ("ImmunizationObservationStatementMapper", "vaccineCode (UNK allowed)", "Immunization", immunisation_vaccine_code),
    ("MedicationStatementExtractor", "basedOn resolves to a plan MedicationRequest", "MedicationStatement",
     statement_based_on_plan),
    ("MedicationStatementExtractor", "PrescribingAgency extension", "MedicationStatement", statement_prescribing_agency),
    ("MedicationStatementMapper", "intent plan or order, and a status", "MedicationRequest", request_intent_and_status),
    ("MedicationStatementMapper", "dosageInstruction text", "MedicationRequest", request_dosage_text),
    ("MedicationStatementMapper", "medicationReference resolves to a coded Medication", "MedicationRequest",
     request_medication_resolves),
    ("MedicationStatementMapper", "a plan's prescription type is one it maps", "MedicationRequest",
     plan_prescription_type),
    ("MedicationStatementMapper", "an order is basedOn its plan", "MedicationRequest", order_based_on),
    ("MedicationStatementExtractor", "a stopped plan's statusChangeDate", "MedicationRequest",
     stopped_status_change_date),
    ("ConditionLinkSetMapper", "asserter is a Practitioner", "Condition", condition_asserter_practitioner),
    ("ConditionLinkSetMapper", "ProblemSignificance extension", "Condition", condition_significance),
    ("ConditionLinkSetMapper", "relatedClinicalContent targets resolve", "Condition", condition_related_content_resolves),
    ("EncounterMapper", "Encounter.type, coded or free text", "Encounter", encounter_type),
    ("EncounterComponentsMapper", "one consultation List per Encounter", "Encounter",
     consultation_list_for_each_encounter),
    ("EncounterComponentsMapper", "consultation -> Topic Lists -> Category Lists or supported resources", "List",
     consultation_list_structure),
    ("ObservationToNarrativeStatementMapper", "an effective date (or issued); no SampledData/Attachment value",
     "Observation", narrative_effective),
    ("diagnosticreport.ObservationMapper", "every Observation has a code", "Observation", observation_code),
    ("DiaryPlanStatementMapper", "a plan ProcedureRequest has authoredOn and a code", "ProcedureRequest",
     diary_authored_and_code),
    ("RequestStatementMapper", "ReferralRequest.requester.agent of a supported type", "ReferralRequest",
     referral_requester),
]


def test_contained_references_resolve_as_the_adaptor_resolves_them():
    allergy = {"resourceType": "AllergyIntolerance", "id": "a-1"}
    ended = {"resourceType": "List", "id": "ended-1", "contained": [allergy],
             "code": {"coding": [{"code": "1103671000000101"}]}}
    heading = {"resourceType": "List", "id": "h-1", "code": {"coding": [{"code": CATEGORY}]},
               "entry": [{"item": {"reference": "List/ended-1#a-1"}}]}
    b = Bundle("x", {"entry": [{"resource": ended}, {"resource": heading}]})
    assert b.get("List/ended-1#a-1") is allergy
    assert b.get("List/ended-1#a-2") is None and b.get("List/other#a-1") is None and b.get("List/h-1#a-1") is None
    assert every_reference_resolves(heading, b) is None
    assert consultation_list_structure(heading, b) is None
    wrong = {**heading, "entry": [{"item": {"reference": "List/ended-1#nope"}}]}
    assert every_reference_resolves(wrong, b) and consultation_list_structure(wrong, b)
    plain = {**heading, "entry": [{"item": {"reference": "List/ended-1"}}]}
    assert consultation_list_structure(plain, b) == "a Category list holds a List"
    condition = {"resourceType": "Condition", "extension": [
        {"url": RELATED_CLINICAL_CONTENT, "valueReference": {"reference": "List/ended-1#a-1"}}]}
    assert condition_related_content_resolves(condition, b) is None
    condition["extension"][0]["valueReference"]["reference"] = "List/ended-1#a-9"
    assert condition_related_content_resolves(condition, b)


EDGE_CASE = "gp2gp-edge-case"      # the tag of personas the adaptor cannot map, on purpose


def edge_case_numbers() -> set:
    """Built-in personas tagged as a GP2GP edge case: kept out of the needs below (they break one need
    on purpose, and ``test_edge_cases_break_only_what_their_tag_says`` pins which)."""
    from mockprovider.config import BUILT_IN_PERSONAS
    from mockprovider.personas.store import PersonaStore
    return {p.nhs_number for p in PersonaStore.load(BUILT_IN_PERSONAS) if EDGE_CASE in p.tags}


@pytest.fixture(scope="module")
def all_bundles(default_cast):
    # GP2GP migrates: the Retrieve a structured record answers (a query's part of the record) are not its input.
    return [Bundle(label, body) for label, body in default_cast if body.get("type") == "collection" and "/retrieve-" not in label]


@pytest.fixture(scope="module")
def bundles(all_bundles):
    """The GP2GP-safe cast: every persona but the tagged edge cases."""
    edge = edge_case_numbers()
    return [b for b in all_bundles if b.label.split("/")[0] not in edge]


def test_edge_cases_break_only_what_their_tag_says(all_bundles):
    """An edge-case persona fails exactly one need, the one its tag names (an Attachment value), so the tag
    can never hide another problem; and at least one built-in persona is such an edge case."""
    edge = edge_case_numbers()
    assert edge, "no built-in persona is tagged gp2gp-edge-case"
    failed = set()
    for b in all_bundles:
        if b.label.split("/")[0] not in edge:
            continue
        for r in b.resources + b.contained:
            for mapper, need, kind_, check in NEEDS:
                if (not kind_ or r["resourceType"] == kind_) and check(r, b):
                    failed.add((mapper, check(r, b)))
    assert failed == {("ObservationToNarrativeStatementMapper", "valueSampledData / valueAttachment")}, failed


def test_every_bundle_has_a_patient(bundles):
    # AgentDirectoryMapper: "The ASR bundle does not contain a Patient resource"
    assert all(any(r["resourceType"] == "Patient" for r in b.resources) for b in bundles)


@pytest.mark.parametrize("mapper,need,kind_,check", NEEDS, ids=[f"{m}: {n}" for m, n, _, _ in NEEDS])
def test_gp2gp_need(bundles, mapper, need, kind_, check):
    failures, seen = {}, 0
    for b in bundles:
        for r in b.resources + b.contained:
            if kind_ and r["resourceType"] != kind_:
                continue
            seen += 1
            problem = check(r, b)
            if problem:
                failures.setdefault(b.label, (f"{r['resourceType']}/{r.get('id')}", problem))
    assert seen, f"no {kind_} in the built-in cast"

    def describe(found):
        counts = Counter(p for _, p in found.values())
        return f"GP2GP {mapper}: {need}\n" + "\n".join(
            f"  {n} x {p}  (e.g. {next(f'{lab} {ref}' for lab, (ref, q) in found.items() if q == p)})"
            for p, n in counts.most_common(5))
    pending.settle("gp2gp", mapper, need, failures, describe)
