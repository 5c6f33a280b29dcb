"""Immunisations: ``record.immunisations`` -> Immunization (CareConnect-GPC-Immunization-1).

Page (1.6.2): pages/accessrecord_structured/accessrecord_structured_development_immunization.md
(and accessrecord_structured_development_immunization_guidance.md).

Persona item fields: ``code`` (the vaccination procedure), ``vaccine`` (the product), ``disease`` (the target disease), ``dose``, ``site``,
``route``, ``problem``, and:

- ``not_given``: the reason code (CareConnect-ReasonImmunizationNotAdministered-1): notGiven true,
  explanation.reasonNotGiven; no site, route, dose or vaccinationProtocol (the Immunization page);
- ``parent_present``: true/false (ParentPresent extension);
- ``batch`` (lotNumber), ``expiry`` (expirationDate), ``manufacturer`` (a name: a display-only
  Reference);
- ``administered_by``: who gave it (an entry of ``record.clinicians`` or ``"usual_gp"``):
  practitioner roles AP (administering) and EP (entering: the usual GP);
- ``observation: true``: a coded immunisation record that is not a vaccination (consent, dissent,
  invitation: the immunisation guidance, "Additional information about vaccinations"): an
  Observation in the Immunisations List; with ``end`` its effectivePeriod.
"""
from __future__ import annotations

from .. import spec
from ..personas.format import Checker
from ..personas.format import DATE_RE
from .common import HL7UK_SD, Ctx, clinical_date, note, put
from .uncategorised import observation_resource

FIELD = "immunisations"
REQUIRED = ("code",)
OPTIONAL = ("vaccine", "disease", "dose", "site", "route", "problem", "not_given", "parent_present", "batch", "expiry",
            "manufacturer", "administered_by", "observation", "end")
CODE_FIELDS = ("code", "vaccine", "disease", "site", "route", "not_given")
END_IS_DATE = True

EXT_VACCINATION_PROCEDURE = HL7UK_SD + "Extension-CareConnect-VaccinationProcedure-1"
# CareConnect-GPC-Immunization-1 slices recordedDate (1..1) on the HL7 UK extension; the NHS
# Extension-CareConnect-GPC-DateRecorded-1 URL is not the one the profile names (GP2GP maps by this URL).
EXT_DATE_RECORDED = HL7UK_SD + "Extension-CareConnect-DateRecorded-1"
EXT_PARENT_PRESENT = HL7UK_SD + "Extension-CareConnect-ParentPresent-1"
ROLE_SYSTEM = "http://hl7.org/fhir/v2/0443"
ROLES = {"AP": "Administering Provider", "EP": "Entering Provider"}


def check(c: Checker, item, p, keys):
    if "dose" in item:
        c.integer(item["dose"], f"{p}.dose", minimum=1)
    for name in ("parent_present", "observation"):
        if name in item:
            c.boolean(item[name], f"{p}.{name}")
    for name in ("batch", "manufacturer", "administered_by"):
        if name in item:
            c.string(item[name], f"{p}.{name}")
    if "expiry" in item:
        c.string(item["expiry"], f"{p}.expiry", DATE_RE)
    if "not_given" in item:
        for name in ("site", "route", "dose"):
            if name in item:
                c.fail(f"{p}.{name}", "must be absent for a vaccination that was not given")
    if item.get("observation"):
        for name in VACCINATION_ONLY:
            if name in item:
                c.fail(f"{p}.{name}", "is a vaccination field: not for an immunisation observation")
    elif "end" in item:
        c.fail(f"{p}.end", "only an immunisation observation (consent, dissent) has an end")


VACCINATION_ONLY = ("vaccine", "disease", "dose", "site", "route", "not_given", "parent_present", "batch", "expiry",
                    "manufacturer", "administered_by")


def build(ctx: Ctx, item: dict):
    key = item["key"]
    if item.get("observation"):
        r = observation_resource(ctx, key, item, ctx.concept(item["code"], item["date"]), clinical_date(item),
                                 ctx.encounter(key))
        if item.get("end"):
            r = _with_period(r, item)
        return r, [r]
    not_given = "not_given" in item
    r = ctx.head("Immunization", key, spec.PROFILE_IMMUNIZATION, item)
    r["extension"] = [{"url": EXT_VACCINATION_PROCEDURE, "valueCodeableConcept": ctx.concept(item["code"], item["date"])},
                      {"url": EXT_DATE_RECORDED, "valueDateTime": item["date"]}]
    if "parent_present" in item:
        r["extension"].append({"url": EXT_PARENT_PRESENT, "valueBoolean": item["parent_present"]})
    r["identifier"] = ctx.identifier("Immunization", key)
    r["status"] = "completed"
    r["notGiven"] = not_given
    if item.get("vaccine"):
        r["vaccineCode"] = ctx.concept(item["vaccine"], description=False)
    else:
        r["vaccineCode"] = {"coding": [{"system": "http://hl7.org/fhir/v3/NullFlavor", "code": "UNK",
                                        "display": "unknown"}], "text": "Unknown"}
    r["patient"] = ctx.patient_ref
    put(r, "encounter", ctx.encounter(key))
    r["date"] = clinical_date(item)
    r["primarySource"] = True
    put(r, "manufacturer", {"display": item["manufacturer"]} if item.get("manufacturer") else None)
    put(r, "lotNumber", item.get("batch"))
    put(r, "expirationDate", item.get("expiry"))
    if item.get("administered_by"):
        people = [("AP", ctx.clinician(item["administered_by"])), ("EP", ctx.agent(item))]
        r["practitioner"] = [{"role": {"coding": [{"system": ROLE_SYSTEM, "code": code, "display": ROLES[code]}]},
                              "actor": ref} for code, ref in people if ref]
    elif ctx.agent(item):
        r["practitioner"] = [{"actor": ctx.agent(item)}]
    if item.get("site"):
        r["site"] = ctx.concept(item["site"], description=False)
    if item.get("route"):
        r["route"] = ctx.concept(item["route"], description=False)
    put(r, "note", note(item))
    if not_given:
        r["explanation"] = {"reasonNotGiven": [ctx.concept(item["not_given"], description=False)]}
    if item.get("dose"):
        r["vaccinationProtocol"] = [{
            "doseSequence": item["dose"],
            # the disease the dose protects against (persona field 'disease'); the vaccine product
            # is vaccineCode, never a disease (immunization page)
            "targetDisease": [ctx.concept(item.get("disease") or item.get("vaccine") or item["code"], description=False)],
            "doseStatus": {"coding": [{"system": "http://hl7.org/fhir/vaccination-protocol-dose-status",
                                       "code": "count", "display": "Counts"}]},
        }]
    return r, [r]


def _with_period(r: dict, item: dict) -> dict:
    """An ended consent or dissent: effectivePeriod (start, end) in place of effectiveDateTime."""
    out = {}
    for name, value in r.items():
        if name == "effectiveDateTime":
            out["effectivePeriod"] = {"start": item["date"], "end": item["end"]}
        else:
            out[name] = value
    return out
