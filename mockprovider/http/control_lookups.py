"""Read-only control endpoints over the look-up journey, for people, scripts and the console:

- ``GET /_control/practices``: the practices registry (which file, the default practice, every
  practice with its interactions and roots, quirks, the personas it holds) and the consumer systems;
- ``GET /_control/practices/{ods}``: one practice, with what SDS answers for each of its interactions
  (the Device and Endpoint searchsets a consumer gets, on this server's host) and what PDS answers for
  each of its personas;
- ``GET /_control/personas/{nhs}/pds``: what ``GET /personal-demographics/FHIR/R4/Patient/{nhs}`` answers
  (status, ETag, body), without the request landing in the journal.

Same blueprint rules as the rest of the control API (mockprovider.http.control_api): the control
token when one is set, ``Cache-Control: no-store``, JSON errors naming the field.
"""
from __future__ import annotations

import re

from flask import Blueprint, current_app, jsonify, request

from .. import spec
from ..fhir.lookups_outcome import outcome
from ..interactions import pds, sds
from ..lookup_errors import LookupFailure
from ..registry import practices as registry_module
from . import control_api
from .lookups import SDS_BASES

bp = Blueprint("control_lookups", __name__, url_prefix="/_control")
bp.before_request(control_api._authorise)
bp.before_request(control_api._sync_personas)
bp.after_request(control_api._no_store)

_ODS = re.compile(r"^[A-Z0-9]{3,10}\Z")
_NHS = re.compile(r"^[0-9]{10}\Z")


def _runtime():
    return current_app.extensions["mockprovider"]


def _origin(runtime) -> str:
    return runtime.settings.public_base_url.rstrip("/") or request.host_url.rstrip("/")


def _personas_of(runtime, practice) -> list:
    registry = runtime.practices
    return sorted((p for p in runtime.personas if registry.home_of(p) is practice), key=lambda p: p.nhs_number)


def pds_view(runtime, number: str) -> dict:
    try:
        resource, facts = pds.read(number, runtime.personas, runtime.practices, runtime.settings)
    except LookupFailure as failure:
        return {"status": failure.status, "code": failure.journal_code, "body": outcome(failure)}
    return {"status": 200, "etag": f'W/"{resource["meta"]["versionId"]}"', "state": facts["pds_state"],
            "body": resource}


@bp.get("/practices")
def list_practices():
    runtime = _runtime()
    registry = runtime.practices
    rows = []
    for i, practice in enumerate(registry.practices):
        row = registry_module.practice_row(practice, i == 0)
        row["personas"] = [p.nhs_number for p in _personas_of(runtime, practice)]
        rows.append(row)
    return jsonify({"file": registry.file, "default": registry.default.ods, "practices": rows,
                    "consumers": [registry_module.consumer_row(c) for c in registry.consumers],
                    "quirks": registry_module.QUIRKS,
                    "interactions": {name: {"interaction_id": i, "kind": kind}
                                     for name, (i, kind) in registry_module.SERVICES.items()}})


@bp.get("/practices/<ods>")
def practice_detail(ods):
    if not _ODS.match(ods):
        return control_api.json_error(400, "an ODS code is 3-10 capital letters and digits", field="ods")
    runtime = _runtime()
    registry = runtime.practices
    practice = registry.get(ods)
    if practice is None:
        return control_api.json_error(404, f"no practice {ods} in the registry", field="ods")
    origin = _origin(runtime)
    base = f"{origin}{SDS_BASES[0]}"
    answers = []
    for name in (practice.roots or registry_module.SERVICES):
        interaction_id = registry_module.SERVICES[name][0]
        query = [("organization", f"{spec.ODS_ORG_SYSTEM}|{ods}"),
                 ("identifier", f"{spec.SDS_INTERACTION_SYSTEM}|{interaction_id}")]
        shown = "&".join(f"{k}={v}" for k, v in query)
        found = {}
        for resource in ("Device", "Endpoint"):
            bundle, _ = sds.search(resource, query, registry=registry, consumer_origin=origin,
                                   self_url=f"{base}/{resource}?{shown}", resource_base=f"{base}/{resource}")
            found[resource.lower()] = bundle
        answers.append({"interaction": name, "interaction_id": interaction_id, **found})
    row = registry_module.practice_row(practice, practice is registry.default)
    return jsonify({**row, "sds": answers,
                    "personas": [{"nhs_number": p.nhs_number, "name": p.name, "pds": pds_view(runtime, p.nhs_number)}
                                 for p in _personas_of(runtime, practice)]})


@bp.get("/personas/<nhs_number>/pds")
def persona_pds(nhs_number):
    if not _NHS.match(nhs_number):
        return control_api.json_error(400, "an NHS number is 10 digits", field="nhs_number")
    runtime = _runtime()
    if runtime.personas.get(nhs_number) is None:
        return control_api.json_error(404, f"no persona with NHS number {nhs_number}", field="nhs_number")
    return jsonify(pds_view(runtime, nhs_number))
