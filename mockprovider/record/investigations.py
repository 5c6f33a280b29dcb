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
``results: [{"key", "code", "value", "unit", "text", "range", "range_text", "interpretation", "note",
"document", "confidential", "nopat"}]``, ``problem``, and:

- ``lab: {"ods", "name"}``: the laboratory: the report's (and its results') performer, with its
  Organization in the Bundle; without it the practice;
- ``category``: HL7 v2 table 0074 code (``LAB``, ``HM``, ``CH``, ``MB``...): DiagnosticReport.category
  and ``laboratory`` on the results (the DiagnosticReport and test result pages);
- ``conclusion``: the report comment (DiagnosticReport.conclusion; default the code's display);
- ``specimen.accession``: the lab's specimen accession number (Specimen.accessionIdentifier);
- a result's ``document``: the key of a persona document: the result's value is that document
  (valueAttachment pointing at its Binary). The test result page allows it ("a quantity, string or an
  attachment"), but the pathology guidance puts "test results that are received as documents" out of
  scope and the GP2GP adaptor throws on an Attachment value (diagnosticreport/ObservationMapper
  UNHANDLED_TYPES), so only the edge-case persona 9690990209 uses it (tag ``gp2gp-edge-case``).

Results in a test group point to it (related ``derived-from``, the test result page); the group lists
them (``has-member``). A confidential result is left out on its own (``ctx.include``); the report is then
sent without it and its Lists carry the confidential-items warning.
"""
from __future__ import annotations

from .. import spec
from ..personas.format import Checker
from .common import (COMMENT_NOTE, Ctx, check_bool, check_code, check_date, check_key, check_organization, display,
                     put)
from .uncategorised import check_values, observation_resource

FIELD = "investigations"
REQUIRED = ("code",)
OPTIONAL = ("specimen", "request", "filing_comment", "groups", "results", "problem", "lab", "category", "conclusion")
CODE_FIELDS = ("code",)
RESULT_FIELDS = (("key", "code"), ("value", "unit", "text", "range", "note", "confidential", "nopat", "range_text",
                                   "interpretation", "document"))
CATEGORIES = {"LAB": "Laboratory", "HM": "Hematology", "CH": "Chemistry", "MB": "Microbiology",
              "PAT": "Pathology (gross & histopath, not surgical)", "RAD": "Radiology"}
CATEGORY_SYSTEM = "http://hl7.org/fhir/v2/0074"
RESULT_CATEGORY = {"coding": [{"system": "http://hl7.org/fhir/observation-category", "code": "laboratory",
                               "display": "Laboratory"}]}

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
        if "document" in result:
            c.string(result["document"], f"{rp}.document")


def check(c: Checker, item, p, keys):
    if "lab" in item:
        check_organization(c, item["lab"], f"{p}.lab")
    if "category" in item:
        c.string(item["category"], f"{p}.category", choices=tuple(CATEGORIES))
    if "conclusion" in item:
        c.string(item["conclusion"], f"{p}.conclusion")
    if "specimen" in item:
        spec_ = c.obj(item["specimen"], f"{p}.specimen", ("type",), ("date", "accession"))
        if "accession" in spec_:
            c.string(spec_["accession"], f"{p}.specimen.accession")
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
        put(specimen, "accessionIdentifier", {"value": s["accession"]} if s.get("accession") else None)
        specimen["status"] = "available"
        specimen["type"] = ctx.concept(s["type"], description=False)
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
        request["code"] = ctx.concept(req.get("code", item["code"]), item["date"], description=False)
        request["subject"] = ctx.patient_ref
        # The ProcedureRequest page lists neither context nor authoredOn ("any element not listed MUST
        # NOT be populated").
        put(request, "requester", ctx.requester_of(item))
        resources_after.append(request)

    result_refs, observations = [], []
    lab_ref = ctx.organization(item["lab"]) if item.get("lab") else None

    def result(res, group_key=None):
        obs = observation_resource(ctx, res["key"], {**res, "clinician": item.get("clinician")}, ctx.concept(res["code"], item["date"]),
                                   item["date"], encounter)
        if item.get("lab") or item.get("category"):
            obs = _after(obs, "status", "category", [RESULT_CATEGORY])
        if lab_ref:
            obs["performer"] = [lab_ref]
        if res.get("document") in ctx.attachments:
            obs = _after(obs, "performer" if "performer" in obs else "issued", "valueAttachment",
                         ctx.attachments[res["document"]])
        if specimen_ref:
            obs["specimen"] = specimen_ref
        if group_key:
            obs["related"] = [{"type": "derived-from", "target": ctx.ref("Observation", group_key)}]
        return obs

    for group in item.get("groups", []):
        members = [result(res, group["key"]) for res in group["results"] if include(res)]
        g = observation_resource(ctx, group["key"], item if item.get("nopat") else {}, ctx.concept(group["code"], item["date"]),
                                 item["date"], encounter)
        # The test group page: performer is the Organization that carried out the tests (a Practitioner
        # only ever beside it): the laboratory, else the practice.
        g["performer"] = [lab_ref or ctx.organization_ref]
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
                                      ctx.concept("|".join(COMMENT_NOTE)), item["date"], encounter)
        filing["status"] = "unknown"       # the filing comments page: "a set value of 'unknown'"
        filing["comment"] = item["filing_comment"]
        result_refs.append({"reference": f"Observation/{filing['id']}"})
        observations.append(filing)

    report = ctx.head("DiagnosticReport", key, spec.PROFILE_DIAGNOSTIC_REPORT, item)
    report["identifier"] = ctx.identifier("DiagnosticReport", key)
    if request is not None:
        report["basedOn"] = [{"reference": f"ProcedureRequest/{request['id']}"}]
    report["status"] = "final"
    if item.get("category"):
        report["category"] = {"coding": [{"system": CATEGORY_SYSTEM, "code": item["category"],
                                          "display": CATEGORIES[item["category"]]}]}
    report["code"] = ctx.concept("|".join(DIAGNOSTIC_STUDIES_REPORT), description=False)
    report["subject"] = ctx.patient_ref
    put(report, "context", encounter)
    report["issued"] = ctx.instant(item["date"])
    report["performer"] = [{"actor": lab_ref or ctx.organization_ref}]
    if specimen_ref:
        report["specimen"] = [specimen_ref]
    put(report, "result", result_refs)
    report["conclusion"] = item.get("conclusion") or display(item["code"])
    return report, [report, *resources_after, *observations]


def _after(resource: dict, name: str, new: str, value) -> dict:
    """The resource with ``new`` placed right after ``name`` (keys stay in a fixed, readable order)."""
    out = {}
    for key, val in resource.items():
        out[key] = val
        if key == name:
            out[new] = value
    return out
