"""Investigations: ``record.investigations`` -> DiagnosticReport (CareConnect-GPC-DiagnosticReport-1),
ProcedureRequest (the test request), Specimen, and test-group / test-result / filing-comment
Observations.

Pages (1.6.2): pages/accessrecord_structured/accessrecord_structured_development_DiagnosticReport.md,
accessrecord_structured_development_specimen.md, accessrecord_structured_development_observation_testGroup.md,
accessrecord_structured_development_observation_testResult.md,
accessrecord_structured_development_observation_filingComments.md (and
accessrecord_structured_development_pathology_guidance.md).

Persona item fields: ``code``, ``request: {"code", "date"}``, ``specimen: {"type", "date"}``,
``filing_comment``, ``groups: [{"key", "code", "note", "results": [...]}]``,
``results: [{"key", "code", "value", "unit", "text", "range", "note", "confidential", "nopat"}]``,
``problem``. A confidential result is left out on its own (``ctx.include``); the report is then
sent without it and its Lists carry the confidential-items warning.
"""
from __future__ import annotations

from .. import spec
from ..domain.persona_format import Checker
from .common import COMMENT_NOTE, Ctx, check_bool, check_code, check_date, check_key, concept, display, instant, put
from .uncategorised import check_values, observation_resource

FIELD = "investigations"
REQUIRED = ("code",)
OPTIONAL = ("specimen", "request", "filing_comment", "groups", "results", "problem")
CODE_FIELDS = ("code",)
RESULT_FIELDS = (("key", "code"), ("value", "unit", "text", "range", "note", "confidential", "nopat"))

DIAGNOSTIC_STUDIES_REPORT = ("721981007", "Diagnostic studies report")


def _check_results(c: Checker, results, path, keys):
    for j, result in enumerate(c.array(results, path)):
        rp = f"{path}[{j}]"
        c.obj(result, rp, RESULT_FIELDS[0], RESULT_FIELDS[1])
        check_key(c, result["key"], f"{rp}.key", keys)
        check_code(c, result["code"], f"{rp}.code")
        check_values(c, result, rp)
        check_bool(c, result, "confidential", rp)
        check_bool(c, result, "nopat", rp)
        if "note" in result:
            c.string(result["note"], f"{rp}.note")


def check(c: Checker, item, p, keys):
    if "specimen" in item:
        spec_ = c.obj(item["specimen"], f"{p}.specimen", ("type",), ("date",))
        check_code(c, spec_["type"], f"{p}.specimen.type")
        if "date" in spec_:
            check_date(c, spec_["date"], f"{p}.specimen.date")
    if "request" in item:
        req = c.obj(item["request"], f"{p}.request", (), ("code", "date"))
        if "code" in req:
            check_code(c, req["code"], f"{p}.request.code")
        if "date" in req:
            check_date(c, req["date"], f"{p}.request.date")
    if "filing_comment" in item:
        c.string(item["filing_comment"], f"{p}.filing_comment")
    for j, group in enumerate(c.array(item.get("groups", []), f"{p}.groups")):
        gp = f"{p}.groups[{j}]"
        c.obj(group, gp, ("key", "code", "results"), ("note",))
        check_key(c, group["key"], f"{gp}.key", keys)
        check_code(c, group["code"], f"{gp}.code")
        _check_results(c, group["results"], f"{gp}.results", keys)
    _check_results(c, item.get("results", []), f"{p}.results", keys)
    if not item.get("groups") and not item.get("results"):
        c.fail(f"{p}.results", "an investigation needs at least one result or test group")


def partial(ctx: Ctx, item: dict) -> bool:
    """True when the report is sent without some of its (confidential) results."""
    return not all(ctx.include(res) for group in item.get("groups", []) for res in group["results"]) \
        or not all(ctx.include(res) for res in item.get("results", []))


def build(ctx: Ctx, item: dict) -> tuple:
    """DiagnosticReport + ProcedureRequest + Specimen + group/result/filing-comment Observations."""
    include = ctx.include
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
        request["status"] = "active"      # ProcedureRequest page and profile: fixed "active"
        request["intent"] = "order"
        request["code"] = concept(req.get("code", item["code"]))
        request["subject"] = ctx.patient_ref
        put(request, "context", encounter)
        request["authoredOn"] = req.get("date", item["date"])
        put(request, "requester", ctx.requester())
        resources_after.append(request)

    result_refs, observations = [], []

    def result(res):
        obs = observation_resource(ctx, res["key"], res, concept(res["code"]), item["date"], encounter)
        if specimen_ref:
            obs["specimen"] = specimen_ref
        return obs

    for group in item.get("groups", []):
        members = [result(res) for res in group["results"] if include(res)]
        g = observation_resource(ctx, group["key"], item if item.get("nopat") else {}, concept(group["code"]),
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
        filing = observation_resource(ctx, f"{key}/filing", item if item.get("nopat") else {},
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
    put(report, "context", encounter)
    report["issued"] = instant(item["date"])
    report["performer"] = [{"actor": ctx.organization_ref}]
    if specimen_ref:
        report["specimen"] = [specimen_ref]
    put(report, "result", result_refs)
    report["conclusion"] = display(item["code"])
    return report, [report, *resources_after, *observations]
