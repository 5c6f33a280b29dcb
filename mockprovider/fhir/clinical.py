"""Clinical resources of the structured record, one builder per clinical area.

Each builder takes a :class:`Ctx` and one persona record item (see personas/README.md) and returns
``(primary, resources)``: the resource the area's primary List points at, and every resource the
item produces (primary first). Dicts are written in a fixed key order: same persona, same bytes.
Ids come from :func:`Ctx.id` (uuid5 of NHS number, resource type and item key).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import spec
from ..domain import ids

CROSS_CARE_ID_SYSTEM = "https://fhir.nhs.uk/Id/cross-care-setting-identifier"
UCUM = "http://unitsofmeasure.org"
HL7UK_SD = "https://fhir.hl7.org.uk/STU3/StructureDefinition/"
EXT_RELATED_CONTENT = HL7UK_SD + "Extension-CareConnect-RelatedClinicalContent-1"
EXT_PROBLEM_SIGNIFICANCE = HL7UK_SD + "Extension-CareConnect-ProblemSignificance-1"
EXT_VACCINATION_PROCEDURE = HL7UK_SD + "Extension-CareConnect-VaccinationProcedure-1"
EXT_ENCOUNTER = spec.SD + "Extension-CareConnect-GPC-Encounter-1"
EXT_ALLERGY_END = spec.SD + "Extension-CareConnect-GPC-AllergyIntoleranceEnd-1"
EXT_LAST_ISSUE = spec.SD + "Extension-CareConnect-GPC-MedicationStatementLastIssueDate-1"
EXT_PRESCRIBING_AGENCY = spec.SD + "Extension-CareConnect-GPC-PrescribingAgency-1"
EXT_PRESCRIPTION_TYPE = spec.SD + "Extension-CareConnect-GPC-PrescriptionType-1"
EXT_REPEAT_INFO = spec.SD + "Extension-CareConnect-GPC-MedicationRepeatInformation-1"
EXT_QUANTITY_TEXT = spec.SD + "Extension-CareConnect-GPC-MedicationQuantityText-1"
EXT_DATE_RECORDED = spec.SD + "Extension-CareConnect-GPC-DateRecorded-1"
PRESCRIPTION_TYPES = {"acute": "Acute", "repeat": "Repeat", "repeat-dispensed": "Repeat dispensed"}
COMMENT_NOTE = ("37331000000100", "Comment note")
DIAGNOSTIC_STUDIES_REPORT = ("721981007", "Diagnostic studies report")
SYSTOLIC = ("72313002", "Systolic arterial pressure")
DIASTOLIC = ("1091811000000102", "Diastolic arterial pressure")


def concept(code_text: str) -> dict:
    """``"<SNOMED>|<display>"`` -> CodeableConcept."""
    code, _, display = code_text.partition("|")
    return {"coding": [{"system": spec.SNOMED, "code": code, "display": display}]}


def display(code_text: str) -> str:
    return code_text.partition("|")[2]


def instant(value: str) -> str:
    """A persona date as a FHIR instant (date-only values at midnight UTC)."""
    return value if "T" in value else f"{value}T00:00:00+00:00"


def quantity(value, unit) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


@dataclass
class Ctx:
    """What every builder needs: the persona, who recorded items, where items were recorded."""
    nhs: str
    patient_ref: dict
    organization_ref: dict
    practitioner_ref: dict | None
    encounter_of: dict = field(default_factory=dict)   # item key -> Encounter reference
    related: dict = field(default_factory=dict)        # problem key -> [references of linked items]

    def id(self, kind: str, key: str) -> str:
        return ids.resource_id(self.nhs, kind, key)

    def ref(self, kind: str, key: str) -> dict:
        return {"reference": f"{kind}/{self.id(kind, key)}"}

    def head(self, kind: str, key: str, profile: str, item: dict | None = None) -> dict:
        """resourceType, id, meta (profile + NOPAT when the item says so)."""
        meta = {"profile": [profile]}
        if item is not None and item.get("nopat"):
            meta["security"] = [dict(spec.NOPAT_SECURITY)]
        return {"resourceType": kind, "id": self.id(kind, key), "meta": meta}

    def identifier(self, kind: str, key: str) -> list:
        return [{"system": CROSS_CARE_ID_SYSTEM, "value": self.id(kind, key)}]

    def requester(self) -> dict | None:
        """Who asked for a request resource: the usual GP on behalf of the practice (None without a GP)."""
        if self.practitioner_ref is None:
            return None
        return {"agent": self.practitioner_ref, "onBehalfOf": self.organization_ref}

    def encounter(self, item_key: str) -> dict | None:
        return self.encounter_of.get(item_key)


def _note(item) -> list | None:
    return [{"text": item["note"]}] if item.get("note") else None


def _put(resource: dict, name: str, value):
    if value is not None and value != []:
        resource[name] = value


# --- problems ------------------------------------------------------------------------------------------
def problem(ctx: Ctx, item: dict):
    key = item["key"]
    r = ctx.head("Condition", key, spec.PROFILE_PROBLEM, item)
    ext = [{"url": EXT_PROBLEM_SIGNIFICANCE, "valueCode": item.get("significance", "major")}]
    ext += [{"url": EXT_RELATED_CONTENT, "valueReference": ref} for ref in ctx.related.get(key, [])]
    r["extension"] = ext
    r["identifier"] = ctx.identifier("Condition", key)
    r["clinicalStatus"] = item.get("status", "active")
    r["category"] = [{"coding": [{"system": "http://hl7.org/fhir/condition-category", "code": "problem-list-item",
                                  "display": "Problem List Item"}]}]
    r["code"] = concept(item["code"])
    r["subject"] = ctx.patient_ref
    _put(r, "context", ctx.encounter(key))
    r["onsetDateTime"] = item["date"]
    _put(r, "abatementDateTime", item.get("end"))
    r["assertedDate"] = item["date"]
    _put(r, "asserter", ctx.practitioner_ref)
    _put(r, "note", _note(item))
    return r, [r]


# --- allergies -----------------------------------------------------------------------------------------
def allergy(ctx: Ctx, item: dict):
    key = item["key"]
    r = ctx.head("AllergyIntolerance", key, spec.PROFILE_ALLERGY, item)
    ext = []
    end = item.get("end")
    if end:
        parts = [{"url": "endDate", "valueDateTime": end["date"]}]
        if end.get("reason"):
            parts.append({"url": "reasonEnded", "valueString": end["reason"]})
        ext.append({"url": EXT_ALLERGY_END, "extension": parts})
    encounter = ctx.encounter(key)
    if encounter:
        ext.append({"url": EXT_ENCOUNTER, "valueReference": encounter})
    _put(r, "extension", ext)
    r["identifier"] = ctx.identifier("AllergyIntolerance", key)
    r["clinicalStatus"] = "resolved" if end else "active"
    r["verificationStatus"] = "unconfirmed"
    r["type"] = "allergy"
    r["category"] = [item.get("category", "medication")]
    r["code"] = concept(item["code"])
    r["patient"] = ctx.patient_ref
    r["onsetDateTime"] = item["date"]
    r["assertedDate"] = item["date"]
    _put(r, "recorder", ctx.practitioner_ref)
    _put(r, "note", _note(item))
    if item.get("reaction"):
        reaction = {"manifestation": [concept(item["reaction"])]}
        _put(reaction, "severity", item.get("severity"))
        r["reaction"] = [reaction]
    return r, [r]


# --- medications ---------------------------------------------------------------------------------------
def medication(ctx: Ctx, item: dict):
    key = item["key"]
    kind = item.get("type", "acute")
    status = item.get("status", "active")
    issues = item.get("issues") or [item["date"]]
    drug = ctx.head("Medication", key, spec.PROFILE_MEDICATION)
    drug["code"] = concept(item["drug"])
    drug_ref = {"reference": f"Medication/{drug['id']}"}
    plan_key = f"{key}/plan"
    period = {"start": item["date"]}
    if item.get("end"):
        period["end"] = item["end"]
    encounter = ctx.encounter(key)
    dosage = [{"text": item["dosage"]}]
    prescription_type = {"url": EXT_PRESCRIPTION_TYPE, "valueCodeableConcept": {"coding": [{
        "system": "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-PrescriptionType-1",
        "code": kind, "display": PRESCRIPTION_TYPES[kind]}]}}

    statement = ctx.head("MedicationStatement", key, spec.PROFILE_MEDICATION_STATEMENT, item)
    statement["extension"] = [
        {"url": EXT_LAST_ISSUE, "valueDateTime": issues[-1]},
        {"url": EXT_PRESCRIBING_AGENCY, "valueCodeableConcept": {"coding": [{
            "system": "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-PrescribingAgency-1",
            "code": "prescribed-at-gp-practice", "display": "Prescribed at GP practice"}]}},
    ]
    statement["identifier"] = ctx.identifier("MedicationStatement", key)
    statement["basedOn"] = [ctx.ref("MedicationRequest", plan_key)]
    _put(statement, "context", encounter)
    statement["status"] = status
    statement["medicationReference"] = drug_ref
    statement["effectivePeriod"] = period
    statement["dateAsserted"] = item["date"]
    _put(statement, "informationSource", ctx.practitioner_ref)
    statement["subject"] = ctx.patient_ref
    statement["taken"] = "unk"
    _put(statement, "note", _note(item))
    statement["dosage"] = dosage

    def request(req_key, intent, authored, validity, based_on=None, req_status=None):
        r = ctx.head("MedicationRequest", req_key, spec.PROFILE_MEDICATION_REQUEST, item)
        ext = [prescription_type]
        if intent == "plan" and kind != "acute" and item.get("repeats_allowed"):
            ext.append({"url": EXT_REPEAT_INFO, "extension": [
                {"url": "numberOfRepeatPrescriptionsAllowed", "valueUnsignedInt": item["repeats_allowed"]},
                {"url": "numberOfRepeatPrescriptionsIssued", "valueUnsignedInt": len(issues)}]})
        r["extension"] = ext
        r["identifier"] = ctx.identifier("MedicationRequest", req_key)
        _put(r, "basedOn", based_on)
        r["status"] = req_status or status
        r["intent"] = intent
        r["medicationReference"] = drug_ref
        r["subject"] = ctx.patient_ref
        _put(r, "context", encounter)
        r["authoredOn"] = authored
        _put(r, "requester", ctx.requester())
        _put(r, "recorder", ctx.practitioner_ref)
        _put(r, "note", _note(item))
        r["dosageInstruction"] = dosage
        dispense = {"validityPeriod": validity}
        if item.get("quantity"):
            dispense["quantity"] = {"extension": [{"url": EXT_QUANTITY_TEXT, "valueString": item["quantity"]}]}
        r["dispenseRequest"] = dispense
        return r

    plan = request(plan_key, "plan", item["date"], period)
    orders = [request(f"{key}/order/{n}", "order", issued, {"start": issued},
                      based_on=[{"reference": f"MedicationRequest/{plan['id']}"}], req_status="completed")
              for n, issued in enumerate(issues, 1)]
    return statement, [statement, plan, *orders, drug]


# --- immunisations -------------------------------------------------------------------------------------
def immunisation(ctx: Ctx, item: dict):
    key = item["key"]
    r = ctx.head("Immunization", key, spec.PROFILE_IMMUNIZATION, item)
    r["extension"] = [{"url": EXT_VACCINATION_PROCEDURE, "valueCodeableConcept": concept(item["code"])},
                      {"url": EXT_DATE_RECORDED, "valueDateTime": item["date"]}]
    r["identifier"] = ctx.identifier("Immunization", key)
    r["status"] = "completed"
    r["notGiven"] = False
    if item.get("vaccine"):
        r["vaccineCode"] = concept(item["vaccine"])
    else:
        r["vaccineCode"] = {"coding": [{"system": "http://hl7.org/fhir/v3/NullFlavor", "code": "UNK",
                                        "display": "unknown"}], "text": "Unknown"}
    r["patient"] = ctx.patient_ref
    _put(r, "encounter", ctx.encounter(key))
    r["date"] = item["date"]
    r["primarySource"] = True
    if ctx.practitioner_ref:
        r["practitioner"] = [{"actor": ctx.practitioner_ref}]
    if item.get("site"):
        r["site"] = concept(item["site"])
    if item.get("route"):
        r["route"] = concept(item["route"])
    _put(r, "note", _note(item))
    if item.get("dose"):
        r["vaccinationProtocol"] = [{
            "doseSequence": item["dose"],
            "targetDisease": [concept(item.get("vaccine") or item["code"])],
            "doseStatus": {"coding": [{"system": "http://hl7.org/fhir/vaccination-protocol-dose-status",
                                       "code": "count", "display": "Counts"}]},
        }]
    return r, [r]


# --- observations (uncategorised, blood pressure, narrative, test results) --------------------------------
def _observation(ctx: Ctx, key: str, item: dict, code: dict, effective: str, encounter=None) -> dict:
    r = ctx.head("Observation", key, spec.PROFILE_OBSERVATION, item)
    r["identifier"] = ctx.identifier("Observation", key)
    r["status"] = "final"
    r["code"] = code
    r["subject"] = ctx.patient_ref
    _put(r, "context", encounter)
    r["effectiveDateTime"] = effective
    r["issued"] = instant(effective)
    if ctx.practitioner_ref:
        r["performer"] = [ctx.practitioner_ref]
    if "value" in item:
        r["valueQuantity"] = quantity(item["value"], item["unit"])
    elif item.get("text"):
        r["valueString"] = item["text"]
    if item.get("note"):
        r["comment"] = item["note"]
    if item.get("range"):
        low, high = item["range"]
        unit = item.get("unit", "")
        r["referenceRange"] = [{"low": quantity(low, unit), "high": quantity(high, unit)}]
    if item.get("bp"):
        systolic, diastolic = item["bp"]
        r["component"] = [
            {"code": concept("|".join(SYSTOLIC)), "valueQuantity": quantity(systolic, "mm[Hg]")},
            {"code": concept("|".join(DIASTOLIC)), "valueQuantity": quantity(diastolic, "mm[Hg]")},
        ]
    return r


def observation(ctx: Ctx, item: dict):
    r = _observation(ctx, item["key"], item, concept(item["code"]), item["date"], ctx.encounter(item["key"]))
    return r, [r]


def narrative(ctx: Ctx, key: str, text: str, date: str, encounter: dict) -> dict:
    """A consultation note: a narrative Observation ("Comment note") holding the text."""
    r = _observation(ctx, key, {}, concept("|".join(COMMENT_NOTE)), date, encounter)
    r["comment"] = text
    return r


# --- investigations ------------------------------------------------------------------------------------
def investigation(ctx: Ctx, item: dict, include) -> tuple:
    """DiagnosticReport + ProcedureRequest + Specimen + group/result/filing-comment Observations.

    ``include(result)`` says whether a (possibly confidential) result is sent.
    """
    key = item["key"]
    encounter = ctx.encounter(key)
    resources_after = []
    specimen_ref = None
    if item.get("specimen"):
        s = item["specimen"]
        specimen = ctx.head("Specimen", key, spec.PROFILE_SPECIMEN, item)
        specimen["identifier"] = ctx.identifier("Specimen", key)
        specimen["status"] = "available"
        specimen["type"] = concept(s["type"])
        specimen["subject"] = ctx.patient_ref
        specimen["receivedTime"] = s.get("date", item["date"])
        specimen["collection"] = {"collectedDateTime": s.get("date", item["date"])}
        specimen_ref = {"reference": f"Specimen/{specimen['id']}"}
        resources_after.append(specimen)
    request = None
    if "request" in item:
        req = item["request"]
        request = ctx.head("ProcedureRequest", f"{key}/request", spec.PROFILE_PROCEDURE_REQUEST, item)
        request["identifier"] = ctx.identifier("ProcedureRequest", f"{key}/request")
        request["status"] = "completed"
        request["intent"] = "order"
        request["code"] = concept(req.get("code", item["code"]))
        request["subject"] = ctx.patient_ref
        _put(request, "context", encounter)
        request["authoredOn"] = req.get("date", item["date"])
        _put(request, "requester", ctx.requester())
        resources_after.append(request)

    result_refs, observations = [], []

    def result(res):
        obs = _observation(ctx, res["key"], res, concept(res["code"]), item["date"], encounter)
        if specimen_ref:
            obs["specimen"] = specimen_ref
        return obs

    for group in item.get("groups", []):
        members = [result(res) for res in group["results"] if include(res)]
        g = _observation(ctx, group["key"], item if item.get("nopat") else {}, concept(group["code"]),
                         item["date"], encounter)
        if group.get("note"):
            g["comment"] = group["note"]
        if members:
            g["related"] = [{"type": "has-member", "target": {"reference": f"Observation/{m['id']}"}}
                            for m in members]
        result_refs.append({"reference": f"Observation/{g['id']}"})
        observations += [g, *members]
    for res in item.get("results", []):
        if include(res):
            obs = result(res)
            result_refs.append({"reference": f"Observation/{obs['id']}"})
            observations.append(obs)
    if item.get("filing_comment"):
        filing = _observation(ctx, f"{key}/filing", item if item.get("nopat") else {},
                              concept("|".join(COMMENT_NOTE)), item["date"], encounter)
        filing["comment"] = item["filing_comment"]
        result_refs.append({"reference": f"Observation/{filing['id']}"})
        observations.append(filing)

    report = ctx.head("DiagnosticReport", key, spec.PROFILE_DIAGNOSTIC_REPORT, item)
    report["identifier"] = ctx.identifier("DiagnosticReport", key)
    if request is not None:
        report["basedOn"] = [{"reference": f"ProcedureRequest/{request['id']}"}]
    report["status"] = "final"
    report["code"] = concept("|".join(DIAGNOSTIC_STUDIES_REPORT))
    report["subject"] = ctx.patient_ref
    _put(report, "context", encounter)
    report["issued"] = instant(item["date"])
    report["performer"] = [{"actor": ctx.organization_ref}]
    if specimen_ref:
        report["specimen"] = [specimen_ref]
    _put(report, "result", result_refs)
    report["conclusion"] = display(item["code"])
    return report, [report, *resources_after, *observations]


# --- referrals and diary entries -----------------------------------------------------------------------
def referral(ctx: Ctx, item: dict):
    key = item["key"]
    r = ctx.head("ReferralRequest", key, spec.PROFILE_REFERRAL_REQUEST, item)
    r["identifier"] = ctx.identifier("ReferralRequest", key)
    r["status"] = "active"
    r["intent"] = "order"
    r["type"] = concept(item["code"])
    r["priority"] = item.get("priority", "routine")
    if item.get("service"):
        r["serviceRequested"] = [{"text": item["service"]}]
    r["subject"] = ctx.patient_ref
    _put(r, "context", ctx.encounter(key))
    r["authoredOn"] = item["date"]
    _put(r, "requester", ctx.requester())
    _put(r, "description", item.get("description"))
    _put(r, "note", _note(item))
    return r, [r]


def diary_entry(ctx: Ctx, item: dict):
    key = item["key"]
    r = ctx.head("ProcedureRequest", key, spec.PROFILE_PROCEDURE_REQUEST, item)
    r["identifier"] = ctx.identifier("ProcedureRequest", key)
    r["status"] = "active"
    r["intent"] = "plan"
    r["code"] = concept(item["code"])
    r["subject"] = ctx.patient_ref
    _put(r, "context", ctx.encounter(key))
    r["occurrenceDateTime"] = item["date"]
    r["authoredOn"] = item["date"]
    _put(r, "requester", ctx.requester())
    _put(r, "note", _note(item))
    return r, [r]


# --- consultations -------------------------------------------------------------------------------------
def encounter(ctx: Ctx, item: dict):
    key = item["key"]
    r = ctx.head("Encounter", key, spec.PROFILE_ENCOUNTER, item)
    r["identifier"] = ctx.identifier("Encounter", key)
    r["status"] = "finished"
    r["type"] = [concept(item["type"])]
    r["subject"] = ctx.patient_ref
    if ctx.practitioner_ref:
        r["participant"] = [{"type": [{"coding": [{"system": "http://hl7.org/fhir/v3/ParticipationType",
                                                   "code": "PPRF", "display": "primary performer"}]}],
                             "individual": ctx.practitioner_ref}]
    r["period"] = {"start": item["date"]}
    r["serviceProvider"] = ctx.organization_ref
    return r, [r]
