"""The 1.6.2 resource pages' MUST / MUST NOT rules and fixed values, one table row each (issue #12).

Each row is (page, rule, check): ``check(resource, ctx)`` returns None when the rule holds, or what
is wrong. Every row runs over every resource its page describes, in every built-in persona's Bundle
in both sensitivity modes (start-up defaults). A failure names the page, the rule and the resource.

Which page describes a resource is read from the Bundle's structure (``classify``): a List with an id
is a consultation / topic / heading List; an Observation in a DiagnosticReport's results is a test
group (it has members), a filing comment (Comment note) or a test result; a ProcedureRequest a
DiagnosticReport is based on is an investigation request, any other a diary entry; and so on.

Pages (nhsconnect/gpconnect feature/1.6.2, pages/accessrecord_structured/): the element lists below
are the headings each page lists ("any element not listed MUST NOT be populated") and its "not in
use" list, transcribed.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict

import pytest

from tests.conformance import pending
from tests.conformance.profiles import Definitions

SNOMED = "http://snomed.info/sct"
SD = "https://fhir.nhs.uk/STU3/StructureDefinition/"
COMMENT_NOTE = "37331000000100"
CONSULTATION, TOPIC, HEADING = "325851000000107", "25851000000105", "24781000000107"
SYSTOLIC, DIASTOLIC = {"72313002", "271649006"}, {"1091811000000102", "271650006"}

P = {  # page key -> page file
    "allergyintolerance": "accessrecord_structured_development_allergyintolerance.md",
    "medicationstatement": "accessrecord_structured_development_medicationstatement.md",
    "medicationrequest": "accessrecord_structured_development_medicationrequest.md",
    "immunization": "accessrecord_structured_development_immunization.md",
    "encounter": "accessrecord_structured_development_encounter.md",
    "list": "accessrecord_structured_development_list.md",
    "list_consultation": "accessrecord_structured_development_list_consutation.md",
    "observation_uncategorised": "accessrecord_structured_development_observation_uncategorisedData.md",
    "observation_bloodpressure": "accessrecord_structured_development_observation_bloodPressure.md",
    "observation_narrative": "accessrecord_structured_development_observation_narrative.md",
    "observation_testgroup": "accessrecord_structured_development_observation_testGroup.md",
    "observation_testresult": "accessrecord_structured_development_observation_testResult.md",
    "observation_filingcomment": "accessrecord_structured_development_observation_filingComments.md",
    "diagnosticreport": "accessrecord_structured_development_DiagnosticReport.md",
    "procedurerequest": "accessrecord_structured_development_ProcedureRequest.md",
    "specimen": "accessrecord_structured_development_specimen.md",
    "referralrequest": "accessrecord_structured_development_referralrequest.md",
    "diaryentry": "accessrecord_structured_development_diaryentry.md",
    "problems": "accessrecord_structured_problems.md",
}

# page -> (top-level elements the page lists, extension slices it lists, elements "not in use")
ELEMENTS = {
    "allergyintolerance": (['id', 'identifier', 'clinicalStatus', 'verificationStatus', 'type', 'category', 'criticality', 'code', 'patient', 'onset[x]', 'assertedDate', 'recorder', 'asserter', 'lastOccurrence', 'note', 'reaction'],
        ['allergyEnd', 'encounter'],
        ['extension[evidence]', 'meta.versionId', 'meta.lastUpdated', 'reaction.note', 'reaction.onset[x]', 'reaction.substance']),
    "medicationstatement": (['id', 'identifier', 'basedOn', 'context', 'status', 'medication[x]', 'effective[x]', 'dateAsserted', 'informationSource', 'subject', 'taken', 'note', 'dosage'],
        ['lastIssueDate', 'prescribingAgency'],
        ['meta.versionId', 'meta.lastUpdated', 'extension[changeSummary]', 'partOf', 'category', 'derivedFrom', 'reasonNotTaken', 'reasonCode', 'reasonReference']),
    "medicationrequest": (['id', 'identifier', 'basedOn', 'groupIdentifier', 'status', 'intent', 'medication[x]', 'subject', 'context', 'authoredOn', 'requester', 'recorder', 'note', 'dosageInstruction', 'dispenseRequest', 'priorPrescription'],
        ['prescriptionType', 'repeatInformation', 'statusReason'],
        ['meta.versionId', 'meta.lastUpdated', 'definition', 'category', 'priority', 'supportingInformation', 'reasonCode', 'reasonReference', 'substitution', 'detectedIssue', 'eventHistory']),
    "immunization": (['id', 'identifier', 'status', 'notGiven', 'vaccineCode', 'patient', 'encounter', 'date', 'primarySource', 'reportOrigin', 'location', 'manufacturer', 'lotNumber', 'expirationDate', 'site', 'route', 'doseQuantity', 'practitioner', 'note', 'explanation', 'vaccinationProtocol'],
        ['parentPresent', 'recordedDate', 'vaccinationProcedure'],
        ['reaction', 'vaccinationProtocol.authority', 'vaccinationProtocol.series', 'vaccinationProtocol.doseStatusReason']),
    "encounter": (['id', 'identifier', 'status', 'type', 'subject', 'participant', 'period', 'length', 'location', 'serviceProvider'],
        [],
        ['statusHistory', 'class', 'classHistory', 'priority', 'episodeOfCare', 'incomingReferral', 'appointment', 'reason', 'diagnosis', 'account', 'hospitalization', 'partOf']),
    "list": (['status', 'mode', 'title', 'code', 'subject', 'date', 'orderedBy', 'note', 'entry', 'emptyReason'],
        ['clinicalSetting', 'warningCode'],
        ['id', 'meta.versionId', 'meta.lastUpdated', 'source']),
    "list_consultation": (['id', 'status', 'mode', 'subject', 'encounter', 'date', 'orderedBy', 'title', 'code', 'entry'],
        ['relatedProblemHeader'],
        ['identifier', 'source', 'note', 'entry.flag', 'entry.deleted', 'entry.date']),
    "observation_uncategorised": (['id', 'identifier', 'status', 'code', 'subject', 'context', 'effective[x]', 'issued', 'performer', 'value[x]', 'interpretation', 'comment', 'bodySite', 'referenceRange', 'related', 'component'],
        [],
        ['basedOn', 'category', 'dataAbsentReason', 'method', 'specimen', 'device']),
    "observation_bloodpressure": (['id', 'identifier', 'status', 'code', 'subject', 'context', 'effective[x]', 'issued', 'performer', 'interpretation', 'comment', 'bodySite', 'related', 'component'],
        [],
        ['basedOn', 'category', 'method', 'specimen', 'device', 'value[x]', 'referenceRange']),
    "observation_narrative": (['id', 'identifier', 'status', 'code', 'subject', 'context', 'effective[x]', 'issued', 'performer', 'comment', 'related'],
        [], []),
    "observation_testgroup": (['id', 'identifier', 'status', 'code', 'subject', 'context', 'effective[x]', 'issued', 'performer', 'interpretation', 'comment', 'specimen', 'related'],
        [], []),
    "observation_testresult": (['id', 'identifier', 'status', 'category', 'code', 'subject', 'context', 'effective[x]', 'issued', 'performer', 'value[x]', 'dataAbsentReason', 'interpretation', 'comment', 'bodySite', 'method', 'specimen', 'referenceRange', 'related'],
        [], []),
    "observation_filingcomment": (['id', 'identifier', 'status', 'code', 'subject', 'context', 'effective[x]', 'issued', 'performer', 'value[x]', 'comment', 'related'],
        [], []),
    "diagnosticreport": (['id', 'identifier', 'basedOn', 'status', 'category', 'code', 'subject', 'context', 'issued', 'performer', 'specimen', 'result', 'codedDiagnosis', 'conclusion'],
        [],
        ['effective[x]', 'imagingStudy', 'image', 'presentedForm']),
    "procedurerequest": (['id', 'identifier', 'status', 'intent', 'code', 'subject', 'performer', 'requester', 'reasonCode', 'reasonReference', 'note'],
        [], []),
    "specimen": (['id', 'identifier', 'accessionIdentifier', 'status', 'type', 'subject', 'receivedTime', 'collection', 'note'],
        [], []),
    "referralrequest": (['id', 'identifier', 'basedOn', 'status', 'intent', 'priority', 'serviceRequested', 'subject', 'context', 'authoredOn', 'requester', 'specialty', 'recipient', 'reasonCode', 'description', 'supportingInfo', 'note'],
        [],
        ['definition', 'replaces', 'groupIdentifier', 'type', 'occurrence[x]', 'reasonReference', 'relevantHistory']),
    "diaryentry": (['id', 'identifier', 'status', 'intent', 'code', 'subject', 'context', 'occurrence[x]', 'authoredOn', 'requester', 'reasonCode', 'supportingInfo', 'note'],
        [],
        ['priority', 'doNotPerform', 'category', 'asNeeded[x]', 'requester.onBehalfOf', 'performerType', 'performer', 'reasonReference', 'specimen', 'bodySite', 'relevantHistory']),
    "problems": (['id', 'identifier', 'clinicalStatus', 'category', 'code', 'subject', 'context', 'onset[x]', 'abatement[x]', 'assertedDate', 'asserter', 'note'],
        ['actualProblem', 'problemSignificance', 'relatedClinicalContent', 'relatedProblemHeader'],
        ['severity', 'verificationStatus', 'bodySite', 'stage', 'evidence']),
}
PROFILE_OF_PAGE = {
    "allergyintolerance": "CareConnect-GPC-AllergyIntolerance-1", "medicationstatement": "CareConnect-GPC-MedicationStatement-1",
    "medicationrequest": "CareConnect-GPC-MedicationRequest-1", "immunization": "CareConnect-GPC-Immunization-1",
    "encounter": "CareConnect-GPC-Encounter-1", "list": "CareConnect-GPC-List-1", "list_consultation": "CareConnect-GPC-List-1",
    "diagnosticreport": "CareConnect-GPC-DiagnosticReport-1", "procedurerequest": "CareConnect-GPC-ProcedureRequest-1",
    "specimen": "CareConnect-GPC-Specimen-1", "referralrequest": "CareConnect-GPC-ReferralRequest-1",
    "diaryentry": "CareConnect-GPC-ProcedureRequest-1", "problems": "CareConnect-GPC-ProblemHeader-Condition-1",
    **{k: "CareConnect-GPC-Observation-1" for k in ELEMENTS if k.startswith("observation_")},
}


# --- reading the Bundle ----------------------------------------------------------------------------------
def codes(cc) -> set:
    return {c.get("code") for c in (cc or {}).get("coding", [])}


def display_of(cc):
    coding = next((c for c in (cc or {}).get("coding", []) if c.get("system") == SNOMED), {})
    return coding.get("display")


def snomed_code(cc):
    return next((c.get("code") for c in (cc or {}).get("coding", []) if c.get("system") == SNOMED), None)


def refs(node) -> list:
    out = []
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            out.append(node["reference"])
        for v in node.values():
            out += refs(v)
    elif isinstance(node, list):
        for v in node:
            out += refs(v)
    return out


def key(r) -> str:
    return f"{r['resourceType']}/{r.get('id')}"


class Ctx:
    """One Bundle, indexed for the rules."""

    def __init__(self, label: str, bundle: dict, defs: Definitions):
        self.label, self.bundle, self.defs = label, bundle, defs
        self.resources = [e["resource"] for e in bundle["entry"]]
        self.contained = [c for r in self.resources for c in r.get("contained", [])]
        self.by_ref = {key(r): r for r in self.resources}
        reports = [r for r in self.resources if r["resourceType"] == "DiagnosticReport"]
        self.report_results = {x["reference"] for d in reports for x in d.get("result", [])}
        self.report_based_on = {x["reference"] for d in reports for x in d.get("basedOn", [])}
        self.members = {rel["target"]["reference"] for r in self.resources if r["resourceType"] == "Observation"
                        for rel in r.get("related", []) if rel.get("type") == "has-member"}
        self.groups = {key(r) for r in self.resources if r["resourceType"] == "Observation"
                       and key(r) in self.report_results and COMMENT_NOTE not in codes(r.get("code"))
                       and not any(k.startswith("value") for k in r)}     # a result's valueAttachment too
        self.statements = [r for r in self.resources if r["resourceType"] == "MedicationStatement"]
        self.plan_of_statement = {}
        for s in self.statements:
            for b in s.get("basedOn", []):
                self.plan_of_statement[key(s)] = self.by_ref.get(b["reference"])
        self.encounters = {key(r): r for r in self.resources if r["resourceType"] == "Encounter"}
        # When the record was extracted: the date every query List carries (the List page: the date
        # the list was prepared).
        self.extracted = max((r["date"] for r in self.resources if r["resourceType"] == "List" and r.get("date")
                              and snomed_code(r.get("code")) not in (CONSULTATION, TOPIC, HEADING)), default=None)
        self.orders_of_plan = Counter(b["reference"] for r in self.resources if r["resourceType"] == "MedicationRequest"
                                      and r.get("intent") == "order" for b in r.get("basedOn", []))
        self.problem_titles = {display_of(r.get("code")) for r in self.resources if r["resourceType"] == "Condition"}

    def resolve(self, ref: str):
        return self.by_ref.get(ref)

    def extension_url(self, page: str, slice_name: str):
        profile = self.defs.profiles.get(SD + PROFILE_OF_PAGE[page])
        kind = profile.type
        el = profile.elements.get(f"{kind}.extension:{slice_name}")
        if el is None:
            return None
        return next((p for t in el.get("type", []) for p in t.get("profile", [])), None)


def classify(r: dict, ctx: Ctx) -> str | None:
    kind = r["resourceType"]
    if kind == "List":
        # by code, not by id: an Ended allergies List referenced from outside has an id too
        return "list_consultation" if snomed_code(r.get("code")) in (CONSULTATION, TOPIC, HEADING) else "list"
    if kind == "Observation":
        k = key(r)
        if k in ctx.groups:
            return "observation_testgroup"
        if k in ctx.report_results and COMMENT_NOTE in codes(r.get("code")):
            return "observation_filingcomment"
        if k in ctx.report_results or k in ctx.members:
            return "observation_testresult"
        if any(codes(c.get("code")) & (SYSTOLIC | DIASTOLIC) for c in r.get("component", [])):
            return "observation_bloodpressure"
        if COMMENT_NOTE in codes(r.get("code")):
            return "observation_narrative"
        return "observation_uncategorised"
    if kind == "ProcedureRequest":
        return "procedurerequest" if key(r) in ctx.report_based_on else "diaryentry"
    if kind == "Condition":
        return "problems"
    return {"AllergyIntolerance": "allergyintolerance", "MedicationStatement": "medicationstatement",
            "MedicationRequest": "medicationrequest", "Immunization": "immunization", "Encounter": "encounter",
            "DiagnosticReport": "diagnosticreport", "Specimen": "specimen",
            "ReferralRequest": "referralrequest"}.get(kind)


# --- generic rows (every page) -----------------------------------------------------------------------------
def _present(r, name):
    if name.endswith("[x]"):
        stem = name[:-3]
        return [k for k in r if k.startswith(stem) and k[len(stem):len(stem) + 1].isupper()]
    return [name] if name in r else []


ENDED_ALLERGIES = "1103671000000101"


def _guidance_allows(page, r, name):
    """The allergies guidance: references to a resolved allergy use the primary Ended allergies List
    (``List/<id>#<allergy id>``), so that List carries an id although the List page leaves id out."""
    return page == "list" and name == "id" and snomed_code(r.get("code")) == ENDED_ALLERGIES


def only_listed_elements(page):
    allowed, _, _ = ELEMENTS[page]

    def check(r, ctx):
        extra = [k for k in r if k not in ("resourceType", "meta", "extension", "contained")
                 and not any(k in _present(r, a) for a in allowed) and not _guidance_allows(page, r, k)]
        return f"elements the page does not list: {extra}" if extra else None
    return check


def only_listed_extensions(page):
    _, slices, _ = ELEMENTS[page]

    def check(r, ctx):
        urls = {ctx.extension_url(page, s) for s in slices}
        extra = [x["url"] for x in r.get("extension", []) if x.get("url") not in urls]
        return f"extensions the page does not list: {extra}" if extra else None
    return check


def none_not_in_use(page):
    _, _, forbidden = ELEMENTS[page]

    def check(r, ctx):
        found = []
        for name in forbidden:
            if _guidance_allows(page, r, name):
                continue
            if name.startswith("extension["):
                url = ctx.extension_url(page, name[10:-1])
                if url and any(x.get("url") == url for x in r.get("extension", [])):
                    found.append(name)
                continue
            head, _, tail = name.partition(".")
            nodes = [r.get("meta", {})] if head == "meta" else [r]
            name_here = tail if head == "meta" else name
            if "." in name_here:
                parent, child = name_here.split(".", 1)
                nodes = [n for node in nodes for n in ((node.get(parent) if isinstance(node.get(parent), list)
                                                        else [node.get(parent)]) if node.get(parent) else [])]
                name_here = child
            if any(_present(n, name_here) for n in nodes if isinstance(n, dict)):
                found.append(name)
        return f"elements 'not in use': {found}" if found else None
    return check


def meta_profile(page):
    def check(r, ctx):
        want = [SD + PROFILE_OF_PAGE[page]]
        return None if r.get("meta", {}).get("profile") == want else f"meta.profile {r.get('meta', {}).get('profile')}"
    return check


def business_identifier(r, ctx):
    ids = r.get("identifier", [])
    if not ids or not all(i.get("system") and i.get("value") for i in ids):
        return f"identifier {ids}"
    return None


def fixed(path: str, value):
    def check(r, ctx):
        node = r
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return None if node == value else f"{path} = {node!r}, the page fixes {value!r}"
    return check


def one_of(path: str, values):
    def check(r, ctx):
        node = r
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return None if node in values else f"{path} = {node!r}, allowed {sorted(values)}"
    return check


# --- page-specific rows -----------------------------------------------------------------------------------
def allergy_resolved_has_end(r, ctx):
    if r.get("clinicalStatus") != "resolved":
        return None
    end = next((x for x in r.get("extension", []) if x["url"] == ctx.extension_url("allergyintolerance", "allergyEnd")), None)
    parts = {x["url"]: x for x in (end or {}).get("extension", [])}
    if not end or "endDate" not in parts or "reasonEnded" not in parts:
        return "resolved without allergyEnd endDate and reasonEnded ('No information available' when unknown)"
    return None


def allergy_resolved_only_in_ended_list(r, ctx):
    resolved = r.get("clinicalStatus") == "resolved"
    contained = r in ctx.contained
    return None if resolved == contained else "resolved allergies (only) are contained in 'Ended allergies'"


def statement_based_on_plan(r, ctx):
    plan = ctx.plan_of_statement.get(key(r))
    if plan is None or plan.get("intent") != "plan":
        return "basedOn is not a MedicationRequest with intent plan"
    return None


def request_links(r, ctx):
    based = [ctx.resolve(b["reference"]) for b in r.get("basedOn", [])]
    if r.get("intent") == "plan":
        return "a plan is based on nothing" if based else None
    if r.get("intent") == "order":
        if len(based) != 1 or (based[0] or {}).get("intent") != "plan":
            return "an order is based on exactly one plan MedicationRequest"
        return None
    return f"intent {r.get('intent')!r}"


def plan_mirrors_statement(r, ctx):
    if r.get("intent") != "plan":
        return None
    for s in ctx.statements:
        if ctx.plan_of_statement.get(key(s)) is r:
            if r.get("dispenseRequest", {}).get("validityPeriod") != s.get("effectivePeriod"):
                return "plan validityPeriod does not mirror MedicationStatement.effective"
    return None


def order_validity_has_end(r, ctx):
    if r.get("intent") != "order":
        return None
    period = r.get("dispenseRequest", {}).get("validityPeriod", {})
    return None if period.get("start") and period.get("end") else "an order's validityPeriod needs start and end"


def stopped_plan_has_status_reason(r, ctx):
    if r.get("intent") != "plan" or r.get("status") != "stopped":
        return None
    url = ctx.extension_url("medicationrequest", "statusReason")
    ext = next((x for x in r.get("extension", []) if x.get("url") == url), None)
    parts = {x["url"] for x in (ext or {}).get("extension", [])}
    return None if ext and {"statusChangeDate", "statusReason"} <= parts else "stopped plan without statusReason (date and reason)"


def repeats_not_on_acute(r, ctx):
    kind = codes(next((x["valueCodeableConcept"] for x in r.get("extension", []) if "PrescriptionType" in x["url"]), {}))
    has = any("RepeatInformation" in x["url"] for x in r.get("extension", []))
    if has and ("acute" in kind or r.get("intent") != "plan"):
        return "repeatInformation on an acute prescription or an order"
    return None


def vaccine_code(r, ctx):
    coding = r.get("vaccineCode", {}).get("coding", [])
    if any(c.get("system") == "http://hl7.org/fhir/v3/NullFlavor" and c.get("code") == "UNK" for c in coding):
        return None
    procedure = next((x for x in r.get("extension", []) if "VaccinationProcedure" in x["url"]), None)
    if procedure and snomed_code(r["vaccineCode"]) == snomed_code(procedure.get("valueCodeableConcept")):
        return "vaccineCode repeats the vaccination procedure code: it must be a vaccine product (or UNK)"
    if not any(re.search(r"vaccine|injection|suspension|powder|solution|emulsion", c.get("display", ""), re.I)
               for c in coding if c.get("system") == SNOMED):
        return f"vaccineCode {coding} is not a vaccine product (or NullFlavor UNK)"
    return None


def practitioner_roles(r, ctx):
    for p in r.get("practitioner", []):
        if "role" in p and not codes(p["role"]) <= {"EP", "AP"}:
            return "practitioner.role must be EP or AP"
    return None


def encounter_recorder(r, ctx):
    for p in r.get("participant", []):
        if "REC" in {c.get("code") for t in p.get("type", []) for c in t.get("coding", [])} \
                and p.get("individual", {}).get("reference", "").startswith("Practitioner/"):
            return None
    return "no participant of type REC (the recorder) referencing a Practitioner"


# The warning codes' associated texts (accessrecord_structured_development_lists_for_message_structure.md,
# "Warning codes" table); dd-Mmm-yyyy is the date the page says to put there.
WARNING_TEXTS = {
    "confidential-items": "Items excluded due to confidentiality and/or patient preferences.",
    "data-in-transit": "Patient record transfer from previous GP practice not yet complete; information recorded "
                       "before dd-Mmm-yyyy may be missing.",
    "data-awaiting-filing": "Patient record contains some items in the GP practice workflow that have not been "
                            "reviewed for inclusion in this message; information recorded before dd-Mmm-yyyy may be "
                            "missing.",
}
EMPTY_NOTE = "Information not available"
LIST_NOTE_RULE = ("note 0..1: the warning texts, then 'Information not available' on a no-content-recorded list, "
                  "concatenated")


def list_query_rules(r, ctx):
    """The List page: ``note`` 0..1 holds "the text versions of any warning messages ... concatenated"
    (list.md ~181); a no-content-recorded List's note MUST be 'Information not available' (list.md ~237);
    each warning code's text MUST be added to the note (lists_for_message_structure.md ~137, ~144).
    An empty List that also carries warnings has one note for both: the warning texts (in the order of
    the warningCode extensions) then 'Information not available', joined by single spaces."""
    notes = r.get("note", [])
    if len(notes) > 1:
        return f"{len(notes)} notes (List.note is 0..1: texts are concatenated in one)"
    warned = [x.get("valueCode") for x in r.get("extension", []) if "ListWarningCode" in x.get("url", "")]
    parts = [re.escape(WARNING_TEXTS.get(code, f"<unknown warning {code}>")).replace(
        "dd\\-Mmm\\-yyyy", r"\d{2}-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-\d{4}") for code in warned]
    empty = "emptyReason" in r
    if empty:
        parts.append(re.escape(EMPTY_NOTE))
    text = notes[0].get("text", "") if notes else None
    if not parts:
        return f"note {text!r} on a list with entries and no warnings" if notes else None
    if text is None:
        return ("empty list without the note 'Information not available'" if empty
                else f"warnings {warned} without their text in a note")
    if not re.fullmatch(" ".join(parts), text):
        expected = " + ".join(warned + ([EMPTY_NOTE] if empty else []))
        return f"note {text!r} is not {expected}, concatenated"
    return None


def test_list_note_rule_catches_wrong_notes():
    """The reading above, and what it must still reject."""
    warn = {"url": SD + "Extension-CareConnect-GPC-ListWarningCode-1", "valueCode": "confidential-items"}
    transit = {"url": SD + "Extension-CareConnect-GPC-ListWarningCode-1", "valueCode": "data-in-transit"}
    empty = {"emptyReason": {"coding": [{"code": "no-content-recorded"}]}}
    conf, na = WARNING_TEXTS["confidential-items"], EMPTY_NOTE
    moved = WARNING_TEXTS["data-in-transit"].replace("dd-Mmm-yyyy", "23-Jun-2010")
    good = [
        {**empty, "note": [{"text": na}]},
        {**empty, "extension": [warn], "note": [{"text": f"{conf} {na}"}]},
        {**empty, "extension": [warn, transit], "note": [{"text": f"{conf} {moved} {na}"}]},
        {"entry": [{}], "extension": [warn], "note": [{"text": conf}]},
        {"entry": [{}]},
    ]
    bad = [
        {**empty},                                                           # no note
        {**empty, "note": [{"text": "No data"}]},                            # wrong text
        {**empty, "extension": [warn], "note": [{"text": conf}]},            # empty text missing
        {**empty, "extension": [warn], "note": [{"text": na}]},              # warning text missing
        {**empty, "extension": [warn], "note": [{"text": conf}, {"text": na}]},   # two notes
        {**empty, "extension": [warn], "note": [{"text": f"{na} {conf}"}]},  # out of order
        {**empty, "extension": [transit], "note": [{"text": WARNING_TEXTS["data-in-transit"] + " " + na}]},  # no date
        {"entry": [{}], "note": [{"text": na}]},                             # on a list with entries
        {"entry": [{}], "extension": [warn], "note": [{"text": f"{conf} {na}"}]},
        {"entry": [{}], "extension": [warn]},                                # warning without its text
    ]
    assert [list_query_rules(r, None) for r in good] == [None] * len(good)
    assert all(list_query_rules(r, None) for r in bad), [list_query_rules(r, None) for r in bad]


def consultation_list_code(r, ctx):
    return None if snomed_code(r.get("code")) in (CONSULTATION, TOPIC, HEADING) else f"code {codes(r.get('code'))}"


def consultation_ordered_by_system(r, ctx):
    coding = r.get("orderedBy", {}).get("coding", [])
    ok = any(c.get("system") == "http://hl7.org/fhir/list-order" and c.get("code") == "system" for c in coding)
    return None if ok else "orderedBy is not list-order | system"


def consultation_no_warnings(r, ctx):
    return "a consultation-structure List carries a warning" if any(
        "ListWarningCode" in x.get("url", "") for x in r.get("extension", [])) else None


def consultation_not_empty(r, ctx):
    return None if r.get("entry") else "an empty consultation / topic / heading List"


def consultation_date_is_encounter_edit(r, ctx):
    enc = ctx.resolve(r.get("encounter", {}).get("reference", ""))
    if enc is None:
        return "no encounter"
    return None if r.get("date") else "no date"


def consultation_entries(r, ctx):
    code = snomed_code(r.get("code"))
    targets = [e["item"]["reference"] for e in r.get("entry", [])]
    if code in (CONSULTATION,):
        bad = [t for t in targets if snomed_code((ctx.resolve(t) or {}).get("code")) != TOPIC]
        return f"consultation entries that are not topic Lists: {bad}" if bad else None
    if code == TOPIC:
        lists = [t for t in targets if t.startswith("List/")]
        if lists and len(lists) != len(targets):
            return "a topic holds headings or items, not both"
    return None


def observation_final(r, ctx):
    return None if r.get("status") == "final" else f"status {r.get('status')!r}"


# --- rows for the defects an outside validator found (issue #24) ---------------------------------------------
# observation_testGroup.md / observation_testResult.md, status: "most likely to be 'final'", 'preliminary'
# possible, 'unknown' when the system cannot tell; observation_filingComments.md, status: "For filing
# comments this is a set value of 'unknown'".
def status_final_preliminary_or_unknown(r, ctx):
    return None if r.get("status") in ("final", "preliminary", "unknown") else f"status {r.get('status')!r}"


def filing_comment_unknown(r, ctx):
    return None if r.get("status") == "unknown" else f"status {r.get('status')!r}, the page sets 'unknown'"


def _day(value: str) -> str:
    return (value or "")[:10]


def diary_authored_is_recorded(r, ctx):
    """diaryentry.md: authoredOn is "the date the diary entry was entered into the original source system";
    occurrence is "the date or date range when the diary entry is planned to occur". So authoredOn is never
    after the record was extracted, and an entry is recorded before the date it is due."""
    authored = r.get("authoredOn")
    if not authored:
        return "no authoredOn"
    if ctx.extracted and _day(authored) > _day(ctx.extracted):
        return f"authoredOn {authored} is after the record was extracted ({ctx.extracted}): a due date, not a recorded one"
    due = r.get("occurrenceDateTime") or (r.get("occurrencePeriod") or {}).get("start")
    if due:
        n = min(len(_day(due)), len(_day(authored)))
        if _day(authored)[:n] >= _day(due)[:n]:
            return f"authoredOn {authored} is not before the due date {due} (occurrence): the due date was sent as authoredOn"
    return None


NOTE_PREFIXES = ("Patient Notes:", "Prescriber Notes:", "Additional Information: ")


def statement_note_prefixes(r, ctx):
    """medicationstatement.md, note: patient and prescriber notes MUST be prefixed 'Patient Notes:' or
    'Prescriber Notes:'; any other relevant note MUST be prefixed 'Additional Information: '."""
    bad = [n.get("text", "")[:40] for n in r.get("note", []) if not n.get("text", "").startswith(NOTE_PREFIXES)]
    return f"notes without 'Patient Notes:', 'Prescriber Notes:' or 'Additional Information: ': {bad}" if bad else None


def prescription_type(r) -> set:
    return codes(next((x["valueCodeableConcept"] for x in r.get("extension", []) if "PrescriptionType" in x["url"]), {}))


def repeat_plan_issued(r, ctx):
    """medicationrequest.md: repeatInformation (plans only) holds numberOfRepeatPrescriptionsIssued, Mandatory
    (1..1): "Running total of number of issues made against a repeat authorisation. MUST be zero, if not yet
    issued." A repeat plan carries it, and the total is the number of its issues (orders) sent; a Retrieve a
    structured record answer may leave issues out (includePrescriptionIssues false, or a problems query that
    pulls in a linked plan), so there the total is at least the issues sent."""
    if r.get("intent") != "plan" or not prescription_type(r) & {"repeat", "repeat-dispensing"}:
        return None
    info = next((x for x in r.get("extension", []) if "RepeatInformation" in x["url"]), None)
    issued = next((x.get("valueUnsignedInt") for x in (info or {}).get("extension", [])
                   if x.get("url") == "numberOfRepeatPrescriptionsIssued"), None)
    if issued is None:
        return "a repeat plan without repeatInformation.numberOfRepeatPrescriptionsIssued"
    orders = ctx.orders_of_plan.get(key(r), 0)
    if "/retrieve-" in ctx.label:
        return None if issued >= orders else f"numberOfRepeatPrescriptionsIssued {issued}, but {orders} issues (orders) are sent"
    return None if issued == orders else f"numberOfRepeatPrescriptionsIssued {issued}, but {orders} issues (orders) are sent"


def dispense_performer_on_orders_only(r, ctx):
    """medicationrequest.md, dispenseRequest.performer: "Only populate for a medicationRequest with an intent =
    order. For a medicationRequest with an intent = plan this field is not populated."
    """
    if r.get("intent") == "plan" and "performer" in (r.get("dispenseRequest") or {}):
        return "dispenseRequest.performer on a plan"
    return None


def group_practitioner_with_organization(r, ctx):
    """observation_testGroup.md, performer: the Organization that carried out the tests; "A Practitioner
    resource may also be referenced here but only where an organization is reference is provided"."""
    kinds = {p.get("reference", "").split("/")[0] for p in r.get("performer", [])}
    return "a Practitioner performer without an Organization" if "Practitioner" in kinds and "Organization" not in kinds else None


def topic_about_a_problem_links_it(r, ctx):
    """Advice, not a page MUST (consultation_guidance.md: a topic is "the problem or issue" addressed; real
    problem-oriented exports link such a topic): a topic List titled after a problem of the record carries
    relatedProblemHeader to it."""
    if snomed_code(r.get("code")) != TOPIC or r.get("title") not in ctx.problem_titles:
        return None
    linked = [x for x in r.get("extension", []) if "RelatedProblemHeader" in x.get("url", "")]
    return None if linked else f"topic {r.get('title')!r} is titled after a problem but has no relatedProblemHeader"


def value_unit_fits_code(r, ctx):
    """A code's meaning matches its unit (terminology facts: tests/conformance/test_terminology.py UNITS), e.g.
    HbA1c: 1019431000000105 (DCCT aligned) is a percentage, 999791000000106 (IFCC standardised) mmol/mol."""
    from tests.conformance.test_terminology import unit_problems
    bad = unit_problems(r)
    return "; ".join(bad) if bad else None


def narrative_code(r, ctx):
    return None if snomed_code(r.get("code")) == COMMENT_NOTE else "code is not 37331000000100 Comment note"


def group_members(r, ctx):
    bad = [x for x in r.get("related", []) if x.get("type") != "has-member"]
    return f"related not has-member: {bad}" if bad else None


def result_points_to_group(r, ctx):
    # only a member of a test group header (a BMI's weight and height members are no test results)
    if not any(rel.get("type") == "has-member" and rel["target"]["reference"] == key(r)
               for g in ctx.groups for rel in (ctx.resolve(g) or {}).get("related", [])):
        return None
    groups = [x["target"]["reference"] for x in r.get("related", []) if x.get("type") == "derived-from"]
    return None if any(g in ctx.groups for g in groups) else "a result in a group has no related derived-from its group header"


def filing_comment_related(r, ctx):
    bad = [x for x in r.get("related", []) if x.get("type") != "derived-from"]
    return f"related not derived-from: {bad}" if bad else None


def bp_units(r, ctx):
    for c in r.get("component", []):
        q = c.get("valueQuantity")
        if q and (q.get("code") != "mm[Hg]" or q.get("system") != "http://unitsofmeasure.org"):
            return f"component unit {q}"
    return None


def referral_no_problem_reference(r, ctx):
    return "references a problem" if any(x.startswith("Condition/") for x in refs(r)) else None


def referral_code_in_reason(r, ctx):
    return None if snomed_code((r.get("reasonCode") or [{}])[0]) else "the referral code is not in reasonCode"


def problem_significance(r, ctx):
    ext = [x for x in r.get("extension", []) if "ProblemSignificance" in x["url"]]
    return None if len(ext) == 1 and ext[0].get("valueCode") in ("major", "minor") else "significance not major/minor"


def problem_links_medication_plan(r, ctx):
    bad = [x["valueReference"]["reference"] for x in r.get("extension", []) if "RelatedClinicalContent" in x["url"]
           and x["valueReference"]["reference"].startswith("MedicationStatement/")]
    return f"related medications through the MedicationStatement, not the plan MedicationRequest: {bad[:2]}" if bad else None


def consultation_links_medication_plan(r, ctx):
    bad = [e["item"]["reference"] for e in r.get("entry", []) if e["item"]["reference"].startswith("MedicationStatement/")]
    return f"a heading references a MedicationStatement, not the plan MedicationRequest: {bad[:2]}" if bad else None


def generic_rows(page):
    return [
        (page, "meta.profile fixed to the page's profile", meta_profile(page)),
        (page, "any element not listed on the page MUST NOT be populated", only_listed_elements(page)),
        (page, "only the extensions the page lists", only_listed_extensions(page)),
        (page, "elements 'not in use' MUST NOT be populated", none_not_in_use(page)),
    ] + ([(page, "identifier MUST be a persistent business identifier (system and value)", business_identifier)]
         if not page.startswith("list") else [])


RULES = [row for page in ELEMENTS for row in generic_rows(page)] + [
    ("allergyintolerance", "verificationStatus fixed unconfirmed", fixed("verificationStatus", "unconfirmed")),
    ("allergyintolerance", "category medication or environment (never food or biologic)",
     lambda r, ctx: None if set(r.get("category", [])) <= {"medication", "environment"} and r.get("category")
     else f"category {r.get('category')}"),
    ("allergyintolerance", "clinicalStatus active or resolved", one_of("clinicalStatus", {"active", "resolved"})),
    ("allergyintolerance", "resolved MUST carry the end date and reason", allergy_resolved_has_end),
    ("allergyintolerance", "resolved allergies sit in the Ended allergies List", allergy_resolved_only_in_ended_list),
    ("medicationstatement", "every MedicationStatement MUST be based on a MedicationRequest with intent plan",
     statement_based_on_plan),
    ("medicationstatement", "taken MUST be unk", fixed("taken", "unk")),
    ("medicationstatement", "medication by Reference(Medication)",
     lambda r, ctx: None if r.get("medicationReference", {}).get("reference", "").startswith("Medication/") else "no medicationReference"),
    ("medicationstatement", "dosage text present", lambda r, ctx: None if all(d.get("text") for d in r.get("dosage", [])) and r.get("dosage") else "no dosage text"),
    ("medicationrequest", "plan based on nothing; order based on its plan", request_links),
    ("medicationrequest", "plan validityPeriod MUST mirror MedicationStatement.effective", plan_mirrors_statement),
    ("medicationrequest", "an order has its validity end date", order_validity_has_end),
    ("medicationrequest", "a stopped plan MUST carry statusReason (date and reason)", stopped_plan_has_status_reason),
    ("medicationrequest", "repeatInformation MUST NOT be specified for acute prescriptions", repeats_not_on_acute),
    ("medicationrequest", "medication by Reference(Medication)",
     lambda r, ctx: None if r.get("medicationReference", {}).get("reference", "").startswith("Medication/") else "no medicationReference"),
    ("immunization", "vaccineCode is a vaccine product, or NullFlavor UNK when unknown", vaccine_code),
    ("immunization", "practitioner.role EP or AP", practitioner_roles),
    ("immunization", "reportOrigin absent when primarySource is true",
     lambda r, ctx: "reportOrigin with primarySource true" if r.get("primarySource") and "reportOrigin" in r else None),
    ("immunization", "explanation.reasonNotGiven absent if notGiven is false",
     lambda r, ctx: "reasonNotGiven while given" if not r.get("notGiven") and r.get("explanation", {}).get("reasonNotGiven") else None),
    ("immunization", "vaccinationProtocol.doseStatus fixed count",
     lambda r, ctx: None if all("count" in codes(p.get("doseStatus")) for p in r.get("vaccinationProtocol", [])) else "doseStatus not count"),
    ("encounter", "status finished or unknown", one_of("status", {"finished", "unknown"})),
    ("encounter", "participant MUST name the recorder (type REC)", encounter_recorder),
    ("list", "status current", fixed("status", "current")),
    ("list", "mode snapshot", fixed("mode", "snapshot")),
    ("list", LIST_NOTE_RULE, list_query_rules),
    ("list_consultation", "status current", fixed("status", "current")),
    ("list_consultation", "mode snapshot", fixed("mode", "snapshot")),
    ("list_consultation", "coded Consultation, Topic (EHR) or Category (EHR)", consultation_list_code),
    ("list_consultation", "orderedBy fixed system", consultation_ordered_by_system),
    ("list_consultation", "date: when the consultation was last edited; encounter named", consultation_date_is_encounter_edit),
    ("list_consultation", "no warnings on consultation-structure Lists", consultation_no_warnings),
    ("list_consultation", "no empty consultation, topic or heading List", consultation_not_empty),
    ("list_consultation", "consultation -> topics; a topic holds headings or items", consultation_entries),
    ("list_consultation", "headings reference medications through the plan MedicationRequest",
     consultation_links_medication_plan),
    *[(page, "status fixed final", observation_final) for page in
      ("observation_uncategorised", "observation_bloodpressure", "observation_narrative")],
    *[(page, "status final, preliminary or unknown (unknown when the system cannot tell)",
       status_final_preliminary_or_unknown) for page in ("observation_testgroup", "observation_testresult")],
    ("observation_filingcomment", "status is the set value unknown", filing_comment_unknown),
    *[(page, "a quantity's unit is what its code measures (UCUM)", value_unit_fits_code)
      for page in ("observation_uncategorised", "observation_testresult", "observation_bloodpressure")],
    ("observation_testgroup", "a Practitioner performer only together with an Organization",
     group_practitioner_with_organization),
    ("diaryentry", "authoredOn is when the entry was recorded; the due date goes in occurrence",
     diary_authored_is_recorded),
    ("medicationstatement", "notes prefixed 'Patient Notes:', 'Prescriber Notes:' or 'Additional Information: '",
     statement_note_prefixes),
    ("medicationrequest", "a repeat plan carries repeatInformation.numberOfRepeatPrescriptionsIssued (its issues)",
     repeat_plan_issued),
    ("medicationrequest", "dispenseRequest.performer on orders only", dispense_performer_on_orders_only),
    ("list_consultation", "advice: a topic titled after a problem of the record links it (relatedProblemHeader)",
     topic_about_a_problem_links_it),
    ("observation_narrative", "code fixed 37331000000100 Comment note", narrative_code),
    ("observation_filingcomment", "code fixed 37331000000100 Comment note", narrative_code),
    ("observation_testgroup", "related MUST be has-member", group_members),
    ("observation_testresult", "a result in a group points to its group header (derived-from)", result_points_to_group),
    ("observation_filingcomment", "related MUST be derived-from", filing_comment_related),
    ("observation_bloodpressure", "component values in mm[Hg]", bp_units),
    ("procedurerequest", "status set to active", fixed("status", "active")),
    ("procedurerequest", "intent set to order", fixed("intent", "order")),
    ("referralrequest", "status unknown (or cancelled); entered-in-error never sent", one_of("status", {"unknown", "cancelled"})),
    ("referralrequest", "intent fixed order", fixed("intent", "order")),
    ("referralrequest", "the referral code MUST be in reasonCode", referral_code_in_reason),
    ("referralrequest", "a referral MUST NOT reference its problem", referral_no_problem_reference),
    ("diaryentry", "status MUST only be active", fixed("status", "active")),
    ("diaryentry", "intent MUST only be plan", fixed("intent", "plan")),
    ("diaryentry", "a diary entry MUST NOT reference its problem", referral_no_problem_reference),
    ("problems", "significance major or minor", problem_significance),
    ("problems", "clinicalStatus active or inactive", one_of("clinicalStatus", {"active", "inactive"})),
    ("problems", "category fixed problem-list-item", lambda r, ctx: None if codes((r.get("category") or [{}])[0]) == {"problem-list-item"} else "category"),
    ("problems", "medications linked through the plan MedicationRequest", problem_links_medication_plan),
]


@pytest.fixture(scope="module")
def contexts(default_cast, checker):
    return [Ctx(label, body, checker.defs) for label, body in default_cast
            if body.get("meta", {}).get("profile") == [SD + "GPConnect-StructuredRecord-Bundle-1"]]


@pytest.fixture(scope="module")
def by_page(contexts):
    out = defaultdict(list)
    for ctx in contexts:
        for r in ctx.resources + ctx.contained:
            page = classify(r, ctx)
            if page:
                out[page].append((ctx, r))
    return out


def test_every_page_has_resources_in_the_cast(by_page):
    missing = [page for page in ELEMENTS if not by_page.get(page)]
    assert not missing, f"no built-in persona reaches these pages: {missing}"


def describe(page, rule):
    def text(failures: dict) -> str:
        counts = Counter(p for _, p in failures.values())
        example = {}
        for label, (ref, p) in failures.items():
            example.setdefault(p, f"{label} {ref}")
        return f"{P[page]}: {rule}\n" + "\n".join(f"  {n} x {p}  (e.g. {example[p]})" for p, n in counts.most_common(5))
    return text


@pytest.mark.parametrize("page,rule,check", RULES, ids=[f"{p}: {r}" for p, r, _ in RULES])
def test_page_rule(by_page, page, rule, check):
    failures = {}
    for ctx, r in by_page[page]:
        problem = check(r, ctx)
        if problem:
            failures.setdefault(ctx.label, (key(r), problem))
    pending.settle("page", page, rule, failures, describe(page, rule))
