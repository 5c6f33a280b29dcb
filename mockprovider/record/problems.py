"""Problems: ``record.problems`` -> Condition (CareConnect-GPC-ProblemHeader-Condition-1).

Page (1.6.2): pages/accessrecord_structured/accessrecord_structured_development_problems_guidance.md
(with accessrecord_structured_development_linkages.md for the links a problem carries).

Persona item fields (besides the common ones, see :mod:`.common`): ``code``, ``status``
(``active``/``inactive``), ``significance`` (``major``/``minor``), ``end`` (date). A problem
links every item that names it in ``problem`` (RelatedClinicalContent extension), in area order.
"""
from __future__ import annotations

from .. import spec
from ..domain.persona_format import Checker
from .common import HL7UK_SD, Ctx, concept, note, put

FIELD = "problems"
REQUIRED = ("code",)
OPTIONAL = ("status", "significance", "end")
CODE_FIELDS = ("code",)
END_IS_DATE = True

EXT_RELATED_CONTENT = HL7UK_SD + "Extension-CareConnect-RelatedClinicalContent-1"
CONDITION_CATEGORY = "https://fhir.hl7.org.uk/STU3/CodeSystem/CareConnect-ConditionCategory-1"
EXT_PROBLEM_SIGNIFICANCE = HL7UK_SD + "Extension-CareConnect-ProblemSignificance-1"


def check(c: Checker, item, p, keys):
    c.string(item.get("status", "active"), f"{p}.status", choices=("active", "inactive"))
    c.string(item.get("significance", "major"), f"{p}.significance", choices=("major", "minor"))


def build(ctx: Ctx, item: dict):
    key = item["key"]
    r = ctx.head("Condition", key, spec.PROFILE_PROBLEM, item)
    ext = [{"url": EXT_PROBLEM_SIGNIFICANCE, "valueCode": item.get("significance", "major")}]
    ext += [{"url": EXT_RELATED_CONTENT, "valueReference": ref} for ref in ctx.related.get(key, [])]
    r["extension"] = ext
    r["identifier"] = ctx.identifier("Condition", key)
    r["clinicalStatus"] = item.get("status", "active")
    # CareConnect-GPC-ProblemHeader-Condition-1 fixes system, code and display; the pre-2020
    # http://hl7.org/fhir/condition-category system is not allowed.
    r["category"] = [{"coding": [{"system": CONDITION_CATEGORY, "code": "problem-list-item",
                                  "display": "Problem List Item"}]}]
    r["code"] = concept(item["code"])
    r["subject"] = ctx.patient_ref
    put(r, "context", ctx.encounter(key))
    r["onsetDateTime"] = item["date"]
    put(r, "abatementDateTime", item.get("end"))
    r["assertedDate"] = item["date"]
    put(r, "asserter", ctx.practitioner_ref)
    put(r, "note", note(item))
    return r, [r]
