"""Uncategorised data: ``record.observations`` -> Observation (CareConnect-GPC-Observation-1),
including blood pressure (one Observation with systolic and diastolic components).

Pages (1.6.2): pages/accessrecord_structured/accessrecord_structured_development_observation_uncategorisedData.md,
accessrecord_structured_development_observation_bloodPressure.md (and
accessrecord_structured_development_uncategorisedData_guidance.md).

Persona item fields: ``code``, ``value`` + ``unit``, or ``text``, or ``bp: [systolic, diastolic]``,
``range: [low, high]``, ``range_text`` (referenceRange.text, e.g. with a < or > operator),
``interpretation`` (``H``/``L``/``A``/``N``, HL7 v2 table 0078), ``members`` (keys of child
observations: related has-member here, derived-from on each child), ``problem``. :func:`observation_resource` is the one Observation builder the
other areas use too (test results and groups in :mod:`.investigations`, narrative notes in
:mod:`.consultations`); :func:`check_values` checks the value fields they share.
"""
from __future__ import annotations

from .. import spec
from ..personas.format import Checker
from .common import Ctx, clinical_date, put, quantity

FIELD = "observations"
REQUIRED = ("code",)
OPTIONAL = ("value", "unit", "text", "bp", "range", "problem", "members", "range_text", "interpretation", "code_text")
CODE_FIELDS = ("code",)

INTERPRETATIONS = {"H": "High", "L": "Low", "A": "Abnormal", "N": "Normal"}
INTERPRETATION_SYSTEM = "http://hl7.org/fhir/v2/0078"
SYSTOLIC = ("72313002", "Systolic arterial pressure")
DIASTOLIC = ("1091811000000102", "Diastolic arterial pressure")


def check_values(c: Checker, item, p):
    """value/unit/text/range/bp of an observation or a test result."""
    if "value" in item:
        v = item["value"]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            c.fail(f"{p}.value", "must be a number")
        if "unit" not in item:
            c.fail(f"{p}.unit", "is required with value")
    if "unit" in item:
        c.string(item["unit"], f"{p}.unit")
    if "text" in item:
        c.string(item["text"], f"{p}.text")
    if "range" in item:
        rng = c.array(item["range"], f"{p}.range")
        if len(rng) != 2 or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in rng):
            c.fail(f"{p}.range", "must be [low, high] numbers")
    if "bp" in item:
        bp = c.array(item["bp"], f"{p}.bp")
        if len(bp) != 2 or any(isinstance(x, bool) or not isinstance(x, int) for x in bp):
            c.fail(f"{p}.bp", "must be [systolic, diastolic] whole numbers")
        if "value" in item:
            c.fail(f"{p}.bp", "cannot be combined with value")
    if "range_text" in item:
        c.string(item["range_text"], f"{p}.range_text")
    if "interpretation" in item:
        c.string(item["interpretation"], f"{p}.interpretation", choices=tuple(INTERPRETATIONS))


def check(c: Checker, item, p, keys):
    check_values(c, item, p)
    for i, key in enumerate(c.array(item.get("members", []), f"{p}.members")):
        c.string(key, f"{p}.members[{i}]")


def observation_resource(ctx: Ctx, key: str, item: dict, code: dict, effective: str, encounter=None,
                         recorded: str | None = None) -> dict:
    """One Observation: the item's value (quantity, text, or blood pressure components), range, note.
    ``effective``: when it happened (to the precision known); ``recorded``: when it was entered (issued;
    default ``effective``); the performer is the item's clinician, else the usual GP."""
    r = ctx.head("Observation", key, spec.PROFILE_OBSERVATION, item)
    r["identifier"] = ctx.identifier("Observation", key)
    r["status"] = "final"
    r["code"] = code
    r["subject"] = ctx.patient_ref
    put(r, "context", encounter)
    r["effectiveDateTime"] = effective
    r["issued"] = ctx.instant(recorded or effective)
    if ctx.agent(item):
        r["performer"] = [ctx.agent(item)]
    if "value" in item:
        r["valueQuantity"] = quantity(item["value"], item["unit"])
    elif item.get("text"):
        r["valueString"] = item["text"]
    if item.get("interpretation"):
        code = item["interpretation"]
        r["interpretation"] = {"coding": [{"system": INTERPRETATION_SYSTEM, "code": code,
                                           "display": INTERPRETATIONS[code]}]}
    if item.get("note"):
        r["comment"] = item["note"]
    if item.get("range"):
        low, high = item["range"]
        unit = item.get("unit", "")
        r["referenceRange"] = [{"low": quantity(low, unit), "high": quantity(high, unit)}]
    elif item.get("range_text"):
        r["referenceRange"] = [{"text": item["range_text"]}]
    if item.get("bp"):
        systolic, diastolic = item["bp"]
        r["component"] = [
            {"code": ctx.concept("|".join(SYSTOLIC)), "valueQuantity": quantity(systolic, "mm[Hg]")},
            {"code": ctx.concept("|".join(DIASTOLIC)), "valueQuantity": quantity(diastolic, "mm[Hg]")},
        ]
    return r


def build(ctx: Ctx, item: dict):
    r = observation_resource(ctx, item["key"], item, ctx.concept(item["code"], item["date"], item.get("code_text")),
                             clinical_date(item), ctx.encounter(item["key"]), recorded=item["date"])
    related = [{"type": "has-member", "target": ctx.ref("Observation", key)} for key in item.get("members", [])
               if ctx.include(ctx.items[key])]
    related += [{"type": "derived-from", "target": ctx.ref("Observation", key)}
                for key in ctx.parents.get(item["key"], []) if ctx.include(ctx.items[key])]
    put(r, "related", related)
    return r, [r]
