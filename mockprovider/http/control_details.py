"""Read-only control endpoints that describe the mock, for people, scripts and the console:

- ``GET /_control/catalogue``: every run-time flag (type, choices, start-up and live value, one
  line of explanation) and every fault kind (its fields, the match fields, the Spine codes);
- ``GET /_control/personas/{nhs}``: one persona in full: tags, description, what it exercises
  and the rules it reaches (personas/cast.toml), its documents with sizes and URLs;
- ``GET /_control/personas/{nhs}/record?sensitive=true|false``: its migrate structured Bundle as
  a migrate request with those settings would get it (whatever the persona's error rules say;
  ``Bundle.id`` is ``trace_id`` when given, else a fixed id).
- ``POST /_control/personas/{nhs}/retrieve``: "try a query". The body is a Retrieve a structured
  record ``Parameters`` resource (JSON; ``patientNHSNumber`` may be left out: the path names the
  patient); the answer is exactly what ``$gpc.getstructuredrecord`` answers for it without the
  request headers and JWT: the Bundle (``Bundle.id`` ``trace_id`` when given, else a fixed id) or
  the OperationOutcome with its Spine status (422 for a bad query, 404 for a patient the page
  does not share, 403 when switched off).

Same blueprint rules as the rest of the control API (mockprovider.http.control_api): the control
token when one is set, ``Cache-Control: no-store``, JSON errors naming the field.
"""
from __future__ import annotations

import json
import re
from dataclasses import fields
from types import SimpleNamespace

from flask import Blueprint, Response, current_app, jsonify, request

from .. import spec
from ..config import RUNTIME_FLAGS, Settings
from ..errors import PROXY_STATUSES, TABLE
from ..errors import SpineError
from ..fhir.documents import binary_url
from ..fhir.outcome import operation_outcome
from ..fhir.preview import FIXED_TRACE_ID
from ..fhir.render import to_json_bytes
from ..fhir.served_record import mark_confidential
from ..interactions import migrate_structured, retrieve_structured
from ..personas import cast
from ..personas.documents import index as documents_index
from ..registry.practices import SDS_QUIRKS
from ..state import faults as fault_kinds
from . import control_api

bp = Blueprint("control_details", __name__, url_prefix="/_control")
bp.before_request(control_api._authorise)
bp.before_request(control_api._sync_personas)     # run-time personas: this worker sees the latest cast
bp.after_request(control_api._no_store)

_NHS = re.compile(r"^[0-9]{10}\Z")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")

# How the console groups the flags; a flag not named here is listed under "Other".
FLAG_GROUPS = {
    "gpconnect_enabled": "Enablement", "structured_enabled": "Enablement", "documents_enabled": "Enablement",
    "validation": "Validation",
    "dissent_blocks_migrate": "Compatibility", "migrate_document_codes": "Compatibility",
    "migrate_document_enablement": "Compatibility", "error_display": "Compatibility",
    "nhs_number_status_system": "Compatibility", "patient_general_practitioner": "Compatibility", "patient_general_practitioner": "Compatibility",
    "migrate_document_limit_bytes": "Limits", "retrieve_document_limit_bytes": "Limits",
    "ssp_checks": "Lookups", "jwt_aud": "Lookups", "sds_apikey": "Lookups", "pds_auth": "Lookups",
}


def _runtime():
    return current_app.extensions["mockprovider"]


def _kind(default) -> str:
    return {bool: "boolean", int: "integer"}.get(type(default), "text")


def describe(settings: Settings, live: dict) -> dict:
    """The catalogue document: every run-time flag (``live``: their values now), the start-up
    settings, the fault kinds with their fields, the match fields, the Spine codes and the proxy
    statuses. The docs' reference pages are generated from it too (tools/docs_generate.py)."""
    defaults = settings.runtime_defaults()
    flags = [{"name": name, "type": "choice" if f.metadata.get("choices") else _kind(f.default),
              "choices": list(f.metadata.get("choices") or []) or None,
              "group": FLAG_GROUPS.get(name, "Other"), "doc": f.metadata.get("doc", ""),
              "default": defaults.get(name), "value": live.get(name)}
             for name, f in RUNTIME_FLAGS.items()]
    startup = [{"name": f.name, "env": "MOCKPROVIDER_" + f.name.upper(), "doc": f.metadata.get("doc", ""),
                "value": "(set)" if f.name == "control_token" and getattr(settings, f.name)
                else getattr(settings, f.name)}
               for f in fields(Settings) if not f.metadata.get("runtime")]

    def described(items):
        return [{"name": name, "required": required, "doc": doc,
                 **({"choices": list(SDS_QUIRKS)} if name == "quirk" else {})} for name, required, doc in items]

    return {
        "flags": flags,
        "settings": startup,
        "faults": {
            "kinds": [{"kind": kind, "doc": fault_kinds.KIND_DOCS[kind],
                       "fields": described(fault_kinds.KIND_FIELDS[kind])} for kind in fault_kinds.KINDS],
            "common_fields": described(fault_kinds.COMMON_FIELDS),
            "match_fields": [{"name": name, "doc": fault_kinds.MATCH_DOCS[name],
                              "choices": list(fault_kinds.INTERACTIONS + fault_kinds.LOOKUP_INTERACTIONS)
                              if name == "interaction" else None}
                             for name in fault_kinds.MATCH_FIELDS],
            "spine_codes": [{"code": c.code, "status": c.status, "display": c.display} for c in TABLE.values()],
            "proxy_statuses": [{"status": status, "display": display}
                               for status, (_, display) in PROXY_STATUSES.items()],
            "max_ms": fault_kinds.MAX_MS,
        },
        "interactions": list(fault_kinds.INTERACTIONS),
        "lookup_interactions": list(fault_kinds.LOOKUP_INTERACTIONS),
    }


@bp.get("/catalogue")
def catalogue():
    runtime = _runtime()
    return jsonify(describe(runtime.settings, runtime.control.flags()))


def _persona_or_error(nhs_number: str):
    if not _NHS.match(nhs_number):
        return None, control_api.json_error(400, "an NHS number is 10 digits", field="nhs_number")
    persona = _runtime().personas.get(nhs_number)
    if persona is None:
        return None, control_api.json_error(404, f"no persona with NHS number {nhs_number}", field="nhs_number")
    return persona, None


def _documents_base(runtime, persona=None) -> str:
    """The documents root a migrate request for ``persona`` would put in attachment URLs: its home
    practice's (mockprovider.registry.practices), on this server's host."""
    origin = runtime.settings.public_base_url.rstrip("/") or request.host_url.rstrip("/")
    practice = runtime.practices.home_of(persona) if persona is not None and runtime.practices else None
    if practice is None:
        return f"{origin}/{runtime.settings.ods_code}/STU3/1/gpconnect/documents/fhir"
    return f"{origin}/{practice.ods}/STU3/1/{practice.documents_root()}"


@bp.get("/personas/<nhs_number>")
def persona_detail(nhs_number):
    persona, error = _persona_or_error(nhs_number)
    if error:
        return error
    runtime = _runtime()
    flags = runtime.control.flags()
    data = persona.head
    entry = cast.load(runtime.personas.directory).get(persona.nhs_number)
    base = _documents_base(runtime, persona)
    retrieve_limit = flags.get("retrieve_document_limit_bytes", 0)
    migrate_limit = flags.get("migrate_document_limit_bytes", 0)
    documents = [{
        "key": doc.key, "title": doc.entry.get("title"), "description": doc.entry.get("description"),
        "type": doc.entry.get("type"), "content_type": doc.content_type, "size": doc.size,
        "created": doc.entry.get("created"), "confidential": doc.confidential, "nopat": doc.nopat,
        "binary_id": doc.binary_id, "url": binary_url(base, doc),
        "retrievable": not doc.confidential and doc.size <= retrieve_limit,
        "migratable": migrate_limit == 0 or doc.size <= migrate_limit,
    } for doc in documents_index(runtime.personas).of(persona)]
    record_path = f"/_control/personas/{persona.nhs_number}/record"
    pds = data.get("pds") or {}
    return jsonify({
        **persona.summary(),
        "source": runtime.cast.source(persona.nhs_number),
        "description": data.get("description", ""),
        "gender": data.get("gender"), "birth_date": data.get("birth_date"),
        "deceased": data.get("deceased"), "nhs_number_status": data.get("nhs_number_status", "01"),
        "pds": {"sensitive": bool(pds.get("sensitive")), "dissent": bool(pds.get("dissent")),
                "registered_practice_ods": pds.get("registered_practice_ods")},
        "exercises": entry.exercises if entry else None,
        "rules": list(entry.rules) if entry else [],
        "documents": documents,
        "record": {"sensitive": f"{record_path}?sensitive=true", "not_sensitive": f"{record_path}?sensitive=false"},
        "retrieve": f"/_control/personas/{persona.nhs_number}/retrieve",
    })


@bp.get("/personas/<nhs_number>/record")
def persona_record(nhs_number):
    persona, error = _persona_or_error(nhs_number)
    if error:
        return error
    raw = request.args.get("sensitive", "true").lower()
    if raw not in ("true", "false"):
        return control_api.json_error(400, "'sensitive' must be true or false", field="sensitive")
    trace_id = request.args.get("trace_id", FIXED_TRACE_ID)
    if not _UUID.match(trace_id):
        return control_api.json_error(400, "'trace_id' must be a UUID", field="trace_id")
    mark = request.args.get("mark_confidential", "true").lower()
    if mark not in ("true", "false"):
        return control_api.json_error(400, "'mark_confidential' must be true or false", field="mark_confidential")
    runtime = _runtime()
    shape = SimpleNamespace(runtime=runtime, flags=runtime.control.flags(), documents_base=_documents_base(runtime, persona))
    body = migrate_structured.cached_body(shape, persona, raw == "true").render(trace_id)
    if raw == "true" and mark == "true":
        # What a non-sensitive migrate leaves out gets the marker the import recognises, so
        # `control persona put` of this file keeps the persona's behaviour (the README's round trip).
        without = migrate_structured.cached_body(shape, persona, False).render(trace_id)
        body = to_json_bytes(mark_confidential(json.loads(body), json.loads(without)))
    return Response(body, content_type=spec.FHIR_JSON_UTF8)


@bp.post("/personas/<nhs_number>/retrieve")
def persona_retrieve(nhs_number):
    persona, error = _persona_or_error(nhs_number)
    if error:
        return error
    kind = (request.mimetype or "").lower()
    if kind not in control_api.JSON_BODY_TYPES:
        return control_api.json_error(415, f"the body must be a JSON Parameters resource, not {kind or 'no Content-Type'}",
                                      field="Content-Type")
    trace_id = request.args.get("trace_id", FIXED_TRACE_ID)
    if not _UUID.match(trace_id):
        return control_api.json_error(400, "'trace_id' must be a UUID", field="trace_id")
    body = request.get_json(silent=True)
    if isinstance(body, dict) and isinstance(body.get("parameter"), list):
        named = [p for p in body["parameter"] if isinstance(p, dict) and p.get("name") == "patientNHSNumber"]
        value = ((named[0].get("valueIdentifier") or {}).get("value") if named and isinstance(named[0], dict) else None)
        if named and value != persona.nhs_number:
            return control_api.json_error(400, f"patientNHSNumber {value!r} is not this persona ({persona.nhs_number})",
                                          field="patientNHSNumber")
        if not named:
            body = {**body, "parameter": [{"name": "patientNHSNumber", "valueIdentifier": {
                "system": spec.NHS_NUMBER_SYSTEM, "value": persona.nhs_number}}] + body["parameter"]}
        raw = json.dumps(body).encode()
    else:
        raw = request.get_data()        # whatever it is: the interaction says why it is not a Parameters
    runtime = _runtime()
    flags = runtime.control.flags()
    home = persona.practice or runtime.settings.ods_code      # asked at the persona's home practice
    shape = SimpleNamespace(runtime=runtime, flags=flags, documents_base=_documents_base(runtime, persona), body=raw,
                            body_format="json", ods=home,
                            at_practice=lambda p: (p.practice or runtime.settings.ods_code) == home)
    try:
        _, _, spliced = retrieve_structured.answer(shape)
    except SpineError as failure:
        outcome = to_json_bytes(operation_outcome(failure, flags.get("error_display", "codesystem")))
        return Response(outcome, status=failure.status, content_type=spec.FHIR_JSON_UTF8)
    return Response(spliced.render(trace_id), content_type=spec.FHIR_JSON_UTF8)
