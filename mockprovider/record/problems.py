"""Problems: ``record.problems`` -> Condition (CareConnect-GPC-ProblemHeader-Condition-1).

Page (1.6.2): pages/accessrecord_structured/accessrecord_structured_development_problems_guidance.md
(with accessrecord_structured_development_linkages.md for the links a problem carries).

Persona item fields (besides the common ones, see :mod:`.common`): ``code``, ``status``
(``active``/``inactive``), ``significance`` (``major``/``minor``), ``end`` (date),
``actual`` (the key of the item the problem was raised from: ActualProblem extension),
``related: [{"problem": key, "type": "parent"|"child"|"sibling"}]`` (links to other problems,
RelatedProblemHeader; written on one side, sent on both with the inverse type).

A problem links every item that names it in ``problem`` (RelatedClinicalContent extension), in
area order, and every consultation with a topic about it. Extensions in the profile's order:
actualProblem, relatedProblemHeader, problemSignificance, relatedClinicalContent. A linked problem
or item left out (confidential) is not referenced at all (problems guidance, "Confidential items").
"""
from __future__ import annotations

from .. import spec
from ..personas.format import Checker
from .common import HL7UK_SD, Ctx, clinical_date, note, put

FIELD = "problems"
REQUIRED = ("code",)
OPTIONAL = ("status", "significance", "end", "actual", "related", "code_text")
CODE_FIELDS = ("code",)
END_IS_DATE = True

EXT_RELATED_CONTENT = HL7UK_SD + "Extension-CareConnect-RelatedClinicalContent-1"
CONDITION_CATEGORY = "https://fhir.hl7.org.uk/STU3/CodeSystem/CareConnect-ConditionCategory-1"
EXT_PROBLEM_SIGNIFICANCE = HL7UK_SD + "Extension-CareConnect-ProblemSignificance-1"
EXT_RELATED_PROBLEM = HL7UK_SD + "Extension-CareConnect-RelatedProblemHeader-1"
EXT_ACTUAL_PROBLEM = spec.SD + "Extension-CareConnect-GPC-ActualProblem-1"
RELATIONS = ("parent", "child", "sibling")
INVERSE = {"parent": "child", "child": "parent", "sibling": "sibling"}
# Areas an actual problem may be raised from (the ProblemHeader page, extension[actualProblem]).
ACTUAL_AREAS = ("medications", "allergies", "immunisations", "observations", "referrals", "investigations",
                "diary")


def related_header(kind: str, ref: dict) -> dict:
    """A RelatedProblemHeader extension: ``type`` (omitted when None) and ``target``."""
    parts = [{"url": "type", "valueCode": kind}] if kind else []
    return {"url": EXT_RELATED_PROBLEM, "extension": parts + [{"url": "target", "valueReference": ref}]}


def check(c: Checker, item, p, keys):
    c.string(item.get("status", "active"), f"{p}.status", choices=("active", "inactive"))
    c.string(item.get("significance", "major"), f"{p}.significance", choices=("major", "minor"))
    if "actual" in item:
        c.string(item["actual"], f"{p}.actual")
    for i, link in enumerate(c.array(item.get("related", []), f"{p}.related")):
        c.obj(link, f"{p}.related[{i}]", ("problem", "type"))
        c.string(link["problem"], f"{p}.related[{i}].problem")
        c.string(link["type"], f"{p}.related[{i}].type", choices=RELATIONS)


def build(ctx: Ctx, item: dict):
    key = item["key"]
    r = ctx.head("Condition", key, spec.PROFILE_PROBLEM, item)
    ext = []
    if key in ctx.actual:
        ext.append({"url": EXT_ACTUAL_PROBLEM, "valueReference": ctx.actual[key]})
    ext += [related_header(kind, ref) for kind, ref in ctx.problem_links.get(key, [])]
    ext.append({"url": EXT_PROBLEM_SIGNIFICANCE, "valueCode": item.get("significance", "major")})
    ext += [{"url": EXT_RELATED_CONTENT, "valueReference": ref} for ref in ctx.related.get(key, [])]
    r["extension"] = ext
    r["identifier"] = ctx.identifier("Condition", key)
    r["clinicalStatus"] = item.get("status", "active")
    # CareConnect-GPC-ProblemHeader-Condition-1 fixes system, code and display; the pre-2020
    # http://hl7.org/fhir/condition-category system is not allowed.
    r["category"] = [{"coding": [{"system": CONDITION_CATEGORY, "code": "problem-list-item",
                                  "display": "Problem List Item"}]}]
    r["code"] = ctx.concept(item["code"], item["date"], item.get("code_text"))
    r["subject"] = ctx.patient_ref
    put(r, "context", ctx.encounter(key))
    r["onsetDateTime"] = clinical_date(item)
    put(r, "abatementDateTime", item.get("end"))
    r["assertedDate"] = item["date"]
    put(r, "asserter", ctx.agent(item))
    put(r, "note", note(item))
    return r, [r]
