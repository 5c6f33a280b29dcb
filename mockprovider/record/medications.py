"""Medications: ``record.medications`` -> MedicationStatement, MedicationRequest (plan + one order per
issue) and Medication (CareConnect-GPC-MedicationStatement-1, -MedicationRequest-1, -Medication-1).

Pages (1.6.2): pages/accessrecord_structured/accessrecord_structured_development_medicationstatement.md,
accessrecord_structured_development_medicationrequest.md, accessrecord_structured_development_medication.md
(with accessrecord_structured_development_medication_resource_relationships.md and
accessrecord_structured_development_medication_guidance.md).

Persona item fields: ``drug`` (dm+d code), ``drug_text`` (Medication.code.text: the source text,
e.g. with ``196421000000109|Transfer-degraded medication entry``), ``dosage`` (text), ``quantity``
(text), ``type`` (CareConnect-PrescriptionType-1: ``acute``/``delayed-prescribing``/``repeat``/
``repeat-dispensing``), ``status`` (``active``/``completed``/``stopped``), ``status_reason``
(why it was stopped or discontinued: the plan's statusReason, dated ``end``), ``end``, ``issues``
(dates; an acute has one, default its ``date``; ``[]``: a plan with no issues), ``repeats_allowed``,
``problem``, and:

- ``prescribed_elsewhere``: text (who prescribed it): prescribingAgency
  ``prescribed-by-another-organisation`` with that text; no issues are recorded;
- ``prior``: the key of the medication this one re-authorises (the plan's priorPrescription);
- ``dosage_structured: {"frequency", "period", "period_unit", "dose", "dose_unit", "route"}``:
  Dosage.timing / doseQuantity / route alongside the text; ``patient_instruction``;
- ``supply_days``: dispenseRequest.expectedSupplyDuration of each issue;
- ``eps: [{"item", "prescription"}]`` (one per issue): the EPS order item id as a second identifier of
  the issue and the EPS prescription id as its groupIdentifier;
- ``prescriber_note`` / ``patient_note``: the authorisation's prescriber and patient notes; the
  MedicationStatement page: notes are prefixed ``Prescriber Notes:`` / ``Patient Notes:``, and any other
  note (the item's ``note``) ``Additional Information: `` (MedicationRequest.note keeps ``note`` as it is);
- ``dispenser: {"ods", "name"}``: the organisation known to have dispensed the issues: each order's
  dispenseRequest.performer (the MedicationRequest page: orders only, and only when known).

A repeat plan (``repeat``, ``repeat-dispensing``) always carries repeatInformation with
numberOfRepeatPrescriptionsIssued (its issues, 0 when none; Mandatory inside the extension), and
numberOfRepeatPrescriptionsAllowed only when ``repeats_allowed`` says so.

No lastIssueDate for repeat dispensing, prescribed elsewhere, or a plan with no issues (the
MedicationStatement page).
"""
from __future__ import annotations

from datetime import date, timedelta

from .. import spec
from ..personas.format import Checker
from .common import Ctx, check_code, check_date, check_organization, coding, note, put

FIELD = "medications"
REQUIRED = ("drug", "dosage")
OPTIONAL = ("type", "status", "end", "quantity", "issues", "repeats_allowed", "problem", "drug_text", "status_reason",
            "prescribed_elsewhere", "prior", "dosage_structured", "patient_instruction", "supply_days", "eps",
            "prescriber_note", "patient_note", "dispenser")
CODE_FIELDS = ("drug",)
END_IS_DATE = True

EXT_LAST_ISSUE = spec.SD + "Extension-CareConnect-GPC-MedicationStatementLastIssueDate-1"
EXT_PRESCRIBING_AGENCY = spec.SD + "Extension-CareConnect-GPC-PrescribingAgency-1"
EXT_PRESCRIPTION_TYPE = spec.SD + "Extension-CareConnect-GPC-PrescriptionType-1"
EXT_REPEAT_INFO = spec.SD + "Extension-CareConnect-GPC-MedicationRepeatInformation-1"
EXT_QUANTITY_TEXT = spec.SD + "Extension-CareConnect-GPC-MedicationQuantityText-1"
EXT_STATUS_REASON = spec.SD + "Extension-CareConnect-GPC-MedicationStatusReason-1"
PRESCRIPTION_TYPES = {"acute": "Acute", "delayed-prescribing": "Delayed prescribing", "repeat": "Repeat",
                      "repeat-dispensing": "Repeat dispensing"}
PRESCRIPTION_TYPE_SYSTEM = "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-PrescriptionType-1"
PRESCRIBING_AGENCY_SYSTEM = "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-PrescribingAgency-1"
EPS_ITEM_SYSTEM = "https://fhir.nhs.uk/Id/prescription-order-item-number"
EPS_PRESCRIPTION_SYSTEM = "https://fhir.nhs.uk/Id/prescription-order-number"
PERIOD_UNITS = ("h", "d", "wk", "mo")
REPEAT_TYPES = ("repeat", "repeat-dispensing")
UCUM = "http://unitsofmeasure.org"


def _plus_days(day: str, days: int) -> str:
    return (date.fromisoformat(day[:10]) + timedelta(days=days)).isoformat()


def check(c: Checker, item, p, keys):
    c.string(item["dosage"], f"{p}.dosage")
    kind = c.string(item.get("type", "acute"), f"{p}.type", choices=tuple(PRESCRIPTION_TYPES))
    status = c.string(item.get("status", "active"), f"{p}.status", choices=("active", "completed", "stopped"))
    for name in ("drug_text", "status_reason", "prescribed_elsewhere", "prior", "patient_instruction",
                 "prescriber_note", "patient_note"):
        if name in item:
            c.string(item[name], f"{p}.{name}")
    if status == "stopped" and ("status_reason" not in item or "end" not in item):
        c.fail(f"{p}.status_reason", "a stopped medication needs status_reason and end (the plan's statusReason)")
    if "supply_days" in item:
        c.integer(item["supply_days"], f"{p}.supply_days", minimum=1)
    if "dosage_structured" in item:
        d = c.obj(item["dosage_structured"], f"{p}.dosage_structured", ("frequency", "period", "period_unit"),
                  ("dose", "dose_unit", "route"))
        c.integer(d["frequency"], f"{p}.dosage_structured.frequency", minimum=1)
        c.integer(d["period"], f"{p}.dosage_structured.period", minimum=1)
        c.string(d["period_unit"], f"{p}.dosage_structured.period_unit", choices=PERIOD_UNITS)
        if "dose" in d:
            c.integer(d["dose"], f"{p}.dosage_structured.dose", minimum=1)
            check_code(c, d.get("dose_unit"), f"{p}.dosage_structured.dose_unit")
        if "route" in d:
            check_code(c, d["route"], f"{p}.dosage_structured.route")
    if "dispenser" in item:
        check_organization(c, item["dispenser"], f"{p}.dispenser")
    if "prescribed_elsewhere" in item and item.get("issues"):
        c.fail(f"{p}.issues", "a medication prescribed elsewhere has no issues recorded at the practice")
    if "quantity" in item:
        c.string(item["quantity"], f"{p}.quantity")
    if "repeats_allowed" in item:
        c.integer(item["repeats_allowed"], f"{p}.repeats_allowed", minimum=1)
    if "issues" in item:
        issues = c.array(item["issues"], f"{p}.issues")
        for j, d in enumerate(issues):
            check_date(c, d, f"{p}.issues[{j}]")
        if kind in ("acute", "delayed-prescribing") and len(issues) > 1:
            c.fail(f"{p}.issues", "an acute medication has at most one issue")
    if "eps" in item:
        eps = c.array(item["eps"], f"{p}.eps")
        if len(eps) != len(item.get("issues") or [item["date"]]):
            c.fail(f"{p}.eps", "needs one entry per issue")
        for j, e in enumerate(eps):
            c.obj(e, f"{p}.eps[{j}]", ("item", "prescription"))
            c.string(e["item"], f"{p}.eps[{j}].item")
            c.string(e["prescription"], f"{p}.eps[{j}].prescription")


def build(ctx: Ctx, item: dict):
    key = item["key"]
    kind = item.get("type", "acute")
    status = item.get("status", "active")
    issues = item["issues"] if "issues" in item else ([] if item.get("prescribed_elsewhere") else [item["date"]])
    drug = ctx.head("Medication", key, spec.PROFILE_MEDICATION)
    drug["code"] = ctx.drug(item["drug"], item.get("drug_text"))
    drug_ref = {"reference": f"Medication/{drug['id']}"}
    plan_key = f"{key}/plan"
    period = {"start": item["date"]}
    if item.get("end"):
        period["end"] = item["end"]
    encounter = ctx.encounter(key)
    dosage = [_dosage(ctx, item)]
    prescription_type = {"url": EXT_PRESCRIPTION_TYPE, "valueCodeableConcept": {"coding": [{
        "system": PRESCRIPTION_TYPE_SYSTEM, "code": kind, "display": PRESCRIPTION_TYPES[kind]}]}}
    if item.get("prescribed_elsewhere"):
        agency = {"coding": [{"system": PRESCRIBING_AGENCY_SYSTEM, "code": "prescribed-by-another-organisation",
                              "display": "Prescribed by another organisation"}], "text": item["prescribed_elsewhere"]}
    else:
        agency = {"coding": [{"system": PRESCRIBING_AGENCY_SYSTEM, "code": "prescribed-at-gp-practice",
                              "display": "Prescribed at GP practice"}]}

    statement = ctx.head("MedicationStatement", key, spec.PROFILE_MEDICATION_STATEMENT, item)
    statement["extension"] = []
    if issues and kind != "repeat-dispensing":
        statement["extension"].append({"url": EXT_LAST_ISSUE, "valueDateTime": issues[-1]})
    statement["extension"].append({"url": EXT_PRESCRIBING_AGENCY, "valueCodeableConcept": agency})
    statement["identifier"] = ctx.identifier("MedicationStatement", key)
    statement["basedOn"] = [ctx.ref("MedicationRequest", plan_key)]
    put(statement, "context", encounter)
    statement["status"] = status
    statement["medicationReference"] = drug_ref
    statement["effectivePeriod"] = period
    statement["dateAsserted"] = item["date"]
    put(statement, "informationSource", ctx.agent(item))
    statement["subject"] = ctx.patient_ref
    statement["taken"] = "unk"
    put(statement, "note", statement_notes(item))
    statement["dosage"] = dosage

    def request(req_key, intent, authored, validity, based_on=None, req_status=None, eps=None):
        r = ctx.head("MedicationRequest", req_key, spec.PROFILE_MEDICATION_REQUEST, item)
        ext = [prescription_type]
        if intent == "plan" and (kind in REPEAT_TYPES or (kind != "acute" and item.get("repeats_allowed"))):
            info = [{"url": "numberOfRepeatPrescriptionsAllowed", "valueUnsignedInt": item["repeats_allowed"]}] \
                if item.get("repeats_allowed") else []
            info.append({"url": "numberOfRepeatPrescriptionsIssued", "valueUnsignedInt": len(issues)})
            ext.append({"url": EXT_REPEAT_INFO, "extension": info})
        if intent == "plan" and status == "stopped":
            ext.append({"url": EXT_STATUS_REASON, "extension": [
                {"url": "statusChangeDate", "valueDateTime": item["end"]},
                {"url": "statusReason", "valueCodeableConcept": {"text": item["status_reason"]}}]})
        r["extension"] = ext
        r["identifier"] = ctx.identifier("MedicationRequest", req_key)
        if eps:
            r["identifier"].append({"system": EPS_ITEM_SYSTEM, "value": eps["item"]})
        put(r, "basedOn", based_on)
        if eps:
            r["groupIdentifier"] = {"system": EPS_PRESCRIPTION_SYSTEM, "value": eps["prescription"]}
        r["status"] = req_status or status
        r["intent"] = intent
        r["medicationReference"] = drug_ref
        r["subject"] = ctx.patient_ref
        put(r, "context", encounter)
        r["authoredOn"] = authored
        put(r, "requester", ctx.requester_of(item))
        put(r, "recorder", ctx.agent(item))
        put(r, "note", note(item))
        r["dosageInstruction"] = dosage
        dispense = {"validityPeriod": validity}
        if item.get("quantity"):
            dispense["quantity"] = {"extension": [{"url": EXT_QUANTITY_TEXT, "valueString": item["quantity"]}]}
        if intent == "order" and item.get("supply_days"):
            dispense["expectedSupplyDuration"] = {"value": item["supply_days"], "unit": "day", "system": UCUM,
                                                  "code": "d"}
        if intent == "order" and item.get("dispenser"):
            dispense["performer"] = ctx.organization(item["dispenser"])
        r["dispenseRequest"] = dispense
        if intent == "plan" and item.get("prior"):
            r["priorPrescription"] = ctx.ref("MedicationRequest", f"{item['prior']}/plan")
        return r

    plan = request(plan_key, "plan", item["date"], period)
    eps = item.get("eps") or [None] * len(issues)
    # An issue is valid for its supply (supply_days, else the usual 28 days the spec examples show): the
    # medication request page: where there is an end date it MUST be supplied.
    orders = [request(f"{key}/order/{n}", "order", issued,
                      {"start": issued, "end": _plus_days(issued, item.get("supply_days") or 28)},
                      based_on=[{"reference": f"MedicationRequest/{plan['id']}"}], req_status="completed",
                      eps=eps[n - 1])
              for n, issued in enumerate(issues, 1)]
    return statement, [statement, plan, *orders, drug]


NOTE_PREFIXES = (("prescriber_note", "Prescriber Notes: "), ("patient_note", "Patient Notes: "),
                 ("note", "Additional Information: "))


def statement_notes(item: dict) -> list | None:
    """MedicationStatement.note: prescriber and patient notes, then any other note, each with the prefix
    the MedicationStatement page gives it."""
    notes = [{"text": prefix + item[name]} for name, prefix in NOTE_PREFIXES if item.get(name)]
    return notes or None


def _dosage(ctx: Ctx, item: dict) -> dict:
    """Dosage: the text, the patient instruction, and the structured parts when the item has them."""
    dosage = {"text": item["dosage"]}
    put(dosage, "patientInstruction", item.get("patient_instruction"))
    d = item.get("dosage_structured")
    if d:
        dosage["timing"] = {"repeat": {"frequency": d["frequency"], "period": d["period"],
                                       "periodUnit": d["period_unit"]}}
        if d.get("route"):
            dosage["route"] = ctx.concept(d["route"], description=False)
        if d.get("dose"):
            unit = coding(d["dose_unit"])
            dosage["doseQuantity"] = {"value": d["dose"], "unit": unit["display"], "system": unit["system"],
                                      "code": unit["code"]}
    return dosage
