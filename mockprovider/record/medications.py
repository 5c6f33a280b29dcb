"""Medications: ``record.medications`` -> MedicationStatement, MedicationRequest (plan + one order per
issue) and Medication (CareConnect-GPC-MedicationStatement-1, -MedicationRequest-1, -Medication-1).

Pages (1.6.2): pages/accessrecord_structured/accessrecord_structured_development_medicationstatement.md,
accessrecord_structured_development_medicationrequest.md, accessrecord_structured_development_medication.md
(with accessrecord_structured_development_medication_resource_relationships.md and
accessrecord_structured_development_medication_guidance.md).

Persona item fields: ``drug`` (dm+d code), ``dosage`` (text), ``quantity`` (text), ``type``
(``acute``/``repeat``/``repeat-dispensed``), ``status`` (``active``/``completed``/``stopped``),
``end``, ``issues`` (dates; an acute has one, default its ``date``), ``repeats_allowed``, ``problem``.
"""
from __future__ import annotations

from .. import spec
from ..domain.persona_format import Checker
from .common import Ctx, check_date, concept, note, put

FIELD = "medications"
REQUIRED = ("drug", "dosage")
OPTIONAL = ("type", "status", "end", "quantity", "issues", "repeats_allowed", "problem")
CODE_FIELDS = ("drug",)
END_IS_DATE = True

EXT_LAST_ISSUE = spec.SD + "Extension-CareConnect-GPC-MedicationStatementLastIssueDate-1"
EXT_PRESCRIBING_AGENCY = spec.SD + "Extension-CareConnect-GPC-PrescribingAgency-1"
EXT_PRESCRIPTION_TYPE = spec.SD + "Extension-CareConnect-GPC-PrescriptionType-1"
EXT_REPEAT_INFO = spec.SD + "Extension-CareConnect-GPC-MedicationRepeatInformation-1"
EXT_QUANTITY_TEXT = spec.SD + "Extension-CareConnect-GPC-MedicationQuantityText-1"
PRESCRIPTION_TYPES = {"acute": "Acute", "repeat": "Repeat", "repeat-dispensed": "Repeat dispensed"}


def check(c: Checker, item, p, keys):
    c.string(item["dosage"], f"{p}.dosage")
    kind = c.string(item.get("type", "acute"), f"{p}.type", choices=("acute", "repeat", "repeat-dispensed"))
    c.string(item.get("status", "active"), f"{p}.status", choices=("active", "completed", "stopped"))
    if "quantity" in item:
        c.string(item["quantity"], f"{p}.quantity")
    if "repeats_allowed" in item:
        c.integer(item["repeats_allowed"], f"{p}.repeats_allowed", minimum=1)
    if "issues" in item:
        issues = c.array(item["issues"], f"{p}.issues")
        for j, d in enumerate(issues):
            check_date(c, d, f"{p}.issues[{j}]")
        if kind == "acute" and len(issues) != 1:
            c.fail(f"{p}.issues", "an acute medication has exactly one issue")


def build(ctx: Ctx, item: dict):
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
    put(statement, "context", encounter)
    statement["status"] = status
    statement["medicationReference"] = drug_ref
    statement["effectivePeriod"] = period
    statement["dateAsserted"] = item["date"]
    put(statement, "informationSource", ctx.practitioner_ref)
    statement["subject"] = ctx.patient_ref
    statement["taken"] = "unk"
    put(statement, "note", note(item))
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
        put(r, "basedOn", based_on)
        r["status"] = req_status or status
        r["intent"] = intent
        r["medicationReference"] = drug_ref
        r["subject"] = ctx.patient_ref
        put(r, "context", encounter)
        r["authoredOn"] = authored
        put(r, "requester", ctx.requester())
        put(r, "recorder", ctx.practitioner_ref)
        put(r, "note", note(item))
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
