"""Allergies and intolerances: ``record.allergies`` -> AllergyIntolerance
(CareConnect-GPC-AllergyIntolerance-1).

Page (1.6.2): pages/accessrecord_structured/accessrecord_structured_development_allergyintolerance.md
(and accessrecord_structured_development_allergies_guidance.md).

Persona item fields: ``code``, ``category`` (``food``/``medication``/``environment``/``biologic``),
``reaction`` (code), ``severity`` (``mild``/``moderate``/``severe``), ``end: {"date", "reason"}``,
``problem``. An ended allergy is resolved and contained in the "Ended allergies" List (see
:mod:`.lists`), so nothing outside that List can reference it.
"""
from __future__ import annotations

from .. import spec
from ..domain.persona_format import Checker
from .common import EXT_ENCOUNTER, Ctx, check_date, concept, note, put

FIELD = "allergies"
REQUIRED = ("code",)
OPTIONAL = ("category", "reaction", "severity", "end", "problem")
CODE_FIELDS = ("code", "reaction")

EXT_ALLERGY_END = spec.SD + "Extension-CareConnect-GPC-AllergyIntoleranceEnd-1"


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
        if "problem" in item:
            # an ended allergy is contained in the "Ended allergies" List: nothing outside
            # that List can reference it
            c.fail(f"{p}.problem", "an ended allergy cannot be linked to a problem")


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
        ext.append({"url": EXT_ENCOUNTER, "valueReference": encounter})
    put(r, "extension", ext)
    r["identifier"] = ctx.identifier("AllergyIntolerance", key)
    r["clinicalStatus"] = "resolved" if end else "active"
    r["verificationStatus"] = "unconfirmed"
    r["type"] = "allergy"
    r["category"] = [item.get("category", "medication")]
    r["code"] = concept(item["code"])
    r["patient"] = ctx.patient_ref
    r["onsetDateTime"] = item["date"]
    r["assertedDate"] = item["date"]
    put(r, "recorder", ctx.practitioner_ref)
    put(r, "note", note(item))
    if item.get("reaction"):
        reaction = {"manifestation": [concept(item["reaction"])]}
        put(reaction, "severity", item.get("severity"))
        r["reaction"] = [reaction]
    return r, [r]
