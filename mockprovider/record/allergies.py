"""Allergies and intolerances: ``record.allergies`` -> AllergyIntolerance
(CareConnect-GPC-AllergyIntolerance-1).

Page (1.6.2): pages/accessrecord_structured/accessrecord_structured_development_allergyintolerance.md
(and accessrecord_structured_development_allergies_guidance.md).

Persona item fields: ``code``, ``code_text`` (CodeableConcept.text: the source system's text,
e.g. with the transfer-degraded code ``196461000000101|Transfer-degraded drug allergy``),
``type`` (``allergy``, default, or ``intolerance``), ``criticality`` (``low``/``high``/
``unable-to-assess``), ``category`` (``food``/``medication``/``environment``/``biologic``),
``reaction`` (code), ``severity`` (``mild``/``moderate``/``severe``), ``end: {"date", "reason"}``,
``problem``. An ended allergy is resolved and contained in the "Ended allergies" List (see
:mod:`.lists`); a problem or consultation references it as ``List/<that List's id>#<its id>``.
An allergy recorded in a consultation carries the profile's encounter extension
(``http://hl7.org/fhir/StructureDefinition/encounter-associatedEncounter``).
"""
from __future__ import annotations

from .. import spec
from ..personas.format import Checker
from .common import Ctx, check_date, clinical_date, note, put

FIELD = "allergies"
REQUIRED = ("code",)
OPTIONAL = ("category", "reaction", "severity", "end", "problem", "type", "criticality", "code_text")
CODE_FIELDS = ("code", "reaction")

EXT_ALLERGY_END = spec.SD + "Extension-CareConnect-GPC-AllergyIntoleranceEnd-1"
# The profile's extension[encounter] slice (CareConnect-GPC-AllergyIntolerance-1).
EXT_ASSOCIATED_ENCOUNTER = "http://hl7.org/fhir/StructureDefinition/encounter-associatedEncounter"


def check(c: Checker, item, p, keys):
    c.string(item.get("category", "medication"), f"{p}.category",
             choices=("food", "medication", "environment", "biologic"))
    if "severity" in item:
        c.string(item["severity"], f"{p}.severity", choices=("mild", "moderate", "severe"))
    if "end" in item:
        end = c.obj(item["end"], f"{p}.end", ("date",), ("reason",))
        check_date(c, end["date"], f"{p}.end.date")
        if "reason" in end:
            c.string(end["reason"], f"{p}.end.reason")
    if "type" in item:
        c.string(item["type"], f"{p}.type", choices=("allergy", "intolerance"))
    if "criticality" in item:
        c.string(item["criticality"], f"{p}.criticality", choices=("low", "high", "unable-to-assess"))
    if "code_text" in item:
        c.string(item["code_text"], f"{p}.code_text")


def build(ctx: Ctx, item: dict):
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
        ext.append({"url": EXT_ASSOCIATED_ENCOUNTER, "valueReference": encounter})
    put(r, "extension", ext)
    r["identifier"] = ctx.identifier("AllergyIntolerance", key)
    r["clinicalStatus"] = "resolved" if end else "active"
    r["verificationStatus"] = "unconfirmed"
    r["type"] = item.get("type", "allergy")
    # The page: medication for drug allergies, environment for every other kind (never food or biologic;
    # the GP2GP adaptor maps no other); the persona keeps the finer kind it was recorded with.
    r["category"] = ["medication" if item.get("category", "medication") == "medication" else "environment"]
    put(r, "criticality", item.get("criticality"))
    r["code"] = ctx.concept(item["code"], item["date"], item.get("code_text"))
    r["patient"] = ctx.patient_ref
    r["onsetDateTime"] = clinical_date(item)
    r["assertedDate"] = item["date"]
    put(r, "recorder", ctx.agent(item))
    put(r, "note", note(item))
    if item.get("reaction"):
        reaction = {"manifestation": [ctx.concept(item["reaction"], description=False)]}
        put(reaction, "severity", item.get("severity"))
        r["reaction"] = [reaction]
    return r, [r]
