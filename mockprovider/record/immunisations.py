"""Immunisations: ``record.immunisations`` -> Immunization (CareConnect-GPC-Immunization-1).

Page (1.6.2): pages/accessrecord_structured/accessrecord_structured_development_immunization.md
(and accessrecord_structured_development_immunization_guidance.md).

Persona item fields: ``code`` (the vaccination procedure), ``vaccine``, ``dose``, ``site``,
``route``, ``problem``.
"""
from __future__ import annotations

from .. import spec
from ..domain.persona_format import Checker
from .common import HL7UK_SD, Ctx, concept, note, put

FIELD = "immunisations"
REQUIRED = ("code",)
OPTIONAL = ("vaccine", "dose", "site", "route", "problem")
CODE_FIELDS = ("code", "vaccine", "site", "route")

EXT_VACCINATION_PROCEDURE = HL7UK_SD + "Extension-CareConnect-VaccinationProcedure-1"
# CareConnect-GPC-Immunization-1 slices recordedDate (1..1) on the HL7 UK extension; the NHS
# Extension-CareConnect-GPC-DateRecorded-1 URL is not the one the profile names (GP2GP maps by this URL).
EXT_DATE_RECORDED = HL7UK_SD + "Extension-CareConnect-DateRecorded-1"


def check(c: Checker, item, p, keys):
    if "dose" in item:
        c.integer(item["dose"], f"{p}.dose", minimum=1)


def build(ctx: Ctx, item: dict):
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
    put(r, "encounter", ctx.encounter(key))
    r["date"] = item["date"]
    r["primarySource"] = True
    if ctx.practitioner_ref:
        r["practitioner"] = [{"actor": ctx.practitioner_ref}]
    if item.get("site"):
        r["site"] = concept(item["site"])
    if item.get("route"):
        r["route"] = concept(item["route"])
    put(r, "note", note(item))
    if item.get("dose"):
        r["vaccinationProtocol"] = [{
            "doseSequence": item["dose"],
            "targetDisease": [concept(item.get("vaccine") or item["code"])],
            "doseStatus": {"coding": [{"system": "http://hl7.org/fhir/vaccination-protocol-dose-status",
                                       "code": "count", "display": "Counts"}]},
        }]
    return r, [r]
