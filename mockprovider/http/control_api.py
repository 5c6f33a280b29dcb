"""The control API under /_control/: health, state, flags, faults, personas (list, put, delete,
reload), reset, request journal (filtered by ``trace_id``, ``interaction`` and ``status``). More in
control_details.py.

JSON in, JSON out; kept out of the FHIR roots. A bad request is 400 ``{"error": ..., "field": ...}``
naming the offending field (a bad persona: ``"errors": [{"path", "reason"}, ...]``, every mistake).
A body whose Content-Type is not JSON is 415 naming that Content-Type. When
MOCKPROVIDER_CONTROL_TOKEN is set every call but health needs ``Authorization: Bearer <token>``
(the scheme in any case, the token compared in constant time). Control calls are never journalled
(the journal holds FHIR requests only), so the token never lands in it.
"""
from __future__ import annotations

import hmac
import json
import logging
import re

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..config import RUNTIME_FLAGS, SettingsError, check_flag_value
from ..fhir.stu3_shape import not_stu3, refusal
from ..personas import contract, nhs_number as nhs_numbers
from ..personas.documents import fill_generated_sha256
from ..personas.layer import runtime_label
from ..personas.store import PersonaError, PersonaStore, parse
from ..process import offload
from ..registry.practices import persona_mistakes as practice_mistakes
from ..state.control_redis import StoreUnavailable
from ..state.faults import FaultRuleError, check_rule

bp = Blueprint("control", __name__, url_prefix="/_control")


def _runtime():
    return current_app.extensions["mockprovider"]


def json_error(status: int, message: str, **extra):
    response = jsonify({"error": message, **extra})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.before_request
def _authorise():
    token = _runtime().settings.control_token
    if not token or request.endpoint == "control.health":
        return None
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.encode(), token.encode()):
        response = json_error(401, "control API needs Authorization: Bearer <MOCKPROVIDER_CONTROL_TOKEN>")
        response.headers["WWW-Authenticate"] = 'Bearer realm="mockprovider-control"'
        return response
    return None


# Media types a control body may have: JSON, and FHIR JSON (a structured Bundle to import as a persona).
JSON_BODY_TYPES = ("application/json", "application/fhir+json")


@bp.before_request
def _json_bodies_only():
    """A control body must be JSON: anything else is 415 naming the Content-Type it came with."""
    if request.method not in ("POST", "PUT", "PATCH") or not _has_body():
        return None
    mimetype = request.mimetype
    if mimetype in JSON_BODY_TYPES or (mimetype.startswith("application/") and mimetype.endswith("+json")):
        return None
    sent = request.headers.get("Content-Type")
    what = f"Content-Type {sent!r} is not JSON" if sent else "Content-Type is missing"
    return json_error(415, f"{what}; send the body as application/json", field="Content-Type")


def _has_body() -> bool:
    length = request.content_length
    return bool(length) or (length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower())


@bp.before_request
def _limit_body():
    """Every control body is bounded: a persona PUT by ``max_persona_body_bytes``, the rest by
    ``max_control_body_bytes``; over it (by Content-Length, or once a chunked body has given that
    many bytes) the answer is 413 naming the setting, and nothing is read further."""
    settings = _runtime().settings
    persona = request.endpoint == "control.put_persona"
    limit = settings.max_persona_body_bytes if persona else settings.max_control_body_bytes
    if request.content_length is not None:
        return _too_large(persona, limit) if request.content_length > limit else None
    if _has_body():     # chunked: read it now, at most limit bytes (werkzeug's stream raises past them)
        request.max_content_length = limit
        data = request.stream.read(limit)
        try:
            if request.stream.read(1):
                return _too_large(persona, limit)
        except RequestEntityTooLarge:
            return _too_large(persona, limit)
        request._cached_data = data               # what get_data() / get_json() give from now on
    return None


def _too_large(persona: bool, limit: int):
    name = "MOCKPROVIDER_MAX_PERSONA_BODY_BYTES" if persona else "MOCKPROVIDER_MAX_CONTROL_BODY_BYTES"
    what = "a persona body" if persona else "a control body"
    return json_error(413, f"{what} is at most {limit} bytes ({name})", field="body")


@bp.errorhandler(RequestEntityTooLarge)
def _body_too_large(error):
    persona = request.endpoint == "control.put_persona"
    settings = _runtime().settings
    return _too_large(persona, settings.max_persona_body_bytes if persona else settings.max_control_body_bytes)


@bp.before_request
def _sync_personas():
    _runtime().sync_personas()     # one int compare unless a persona changed


@bp.errorhandler(Exception)
def _json_always(error):
    """Whatever goes wrong in a control call, the answer is JSON (never Flask's HTML page)."""
    if isinstance(error, HTTPException):
        return json_error(error.code or 500, error.description or error.name)
    logging.getLogger("mockprovider").exception("unexpected error on %s %s", request.method, request.path)
    return json_error(500, f"unexpected {type(error).__name__} in the control API: {error}")


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(StoreUnavailable)          # before this blueprint's catch-all for Exception
@bp.app_errorhandler(StoreUnavailable)
def _store_unavailable(error):
    """Redis (MOCKPROVIDER_STATE_URL) did not answer a control call (any blueprint: the console's
    detail endpoints too): nothing was changed, say so. FHIR paths never raise this."""
    return json_error(503, str(error), store="degraded")


@bp.get("/health")
def health():
    """200 while the server answers. ``status`` is ``degraded`` when the shared state store
    (Redis) is unreachable: FHIR requests are still answered, from the last known state."""
    runtime = _runtime()
    store = runtime.control.status()
    return jsonify({"status": "ok" if store["status"] == "ok" else "degraded", "store": store,
                    "personas": len(runtime.personas), "ods_code": runtime.settings.ods_code})


@bp.get("/state")
def state():
    """Everything in one document: flags (and their start-up values), fault rules, the journal."""
    runtime = _runtime()
    settings = runtime.settings
    return jsonify({**runtime.control.snapshot(), "defaults": settings.runtime_defaults(),
                    "requests": runtime.control.journal(), "journal_size": settings.journal_size,
                    "personas": len(runtime.personas), "ods_code": settings.ods_code,
                    "provider_asid": settings.provider_asid,
                    "control_token": bool(settings.control_token)})


@bp.get("/flags")
def get_flags():
    return jsonify(dict(_runtime().control.flags()))


@bp.patch("/flags")
def patch_flags():
    changes = request.get_json(silent=True)
    if not isinstance(changes, dict):
        return json_error(400, "send a JSON object of flag names and values", field="flags")
    unknown = [name for name in changes if name not in RUNTIME_FLAGS]
    if unknown:
        return json_error(400, f"unknown flag {unknown[0]!r}; flags: {', '.join(RUNTIME_FLAGS)}", field=unknown[0])
    for name, value in changes.items():
        try:
            check_flag_value(name, value)
        except SettingsError as exc:
            return json_error(400, str(exc), field=name)
    return jsonify(dict(_runtime().control.update_flags(changes)))


@bp.get("/faults")
def list_faults():
    return jsonify(_runtime().control.fault_rules())


@bp.post("/faults")
def add_fault():
    raw = request.get_json(silent=True)
    try:
        rule = check_rule(raw)
    except FaultRuleError as exc:
        return json_error(400, str(exc), field=exc.field)
    response = jsonify(_runtime().control.add_fault(rule))
    response.status_code = 201
    response.headers["Location"] = f"/_control/faults/{rule['id']}"
    return response


@bp.delete("/faults/<rule_id>")
def delete_fault(rule_id):
    if not _runtime().control.delete_fault(rule_id):
        return json_error(404, f"no fault rule {rule_id!r}", field="id")
    return jsonify({"status": "deleted", "id": rule_id})


@bp.delete("/faults")
def clear_faults():
    return jsonify({"status": "cleared", "deleted": _runtime().control.clear_faults()})


@bp.post("/reset")
def reset():
    """Back to start-up: flags, no fault rules, the start-up cast, an empty journal."""
    runtime = _runtime()
    runtime.control.reset()
    runtime.sync_personas()
    return jsonify({"status": "reset", **runtime.control.snapshot(), "personas": len(runtime.personas)})


# --- personas: the run-time layer over the personas folder (mockprovider.personas.layer) ----------------


def _persona_row(nhs: str) -> dict | None:
    cast = _runtime().cast
    return next((row for row in cast.rows_for([nhs])), None)


@bp.get("/personas")
def list_personas():
    """Every persona of the cast: nhs_number, name, tags, description, source, file."""
    return jsonify(_runtime().cast.rows())


def _bad_persona(errors: list, nhs: str, headline: str | None = None):
    rows = [{"path": e.path, "reason": e.reason} for e in errors]
    first = rows[0]
    more = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
    why = headline or f"{first['path']}: {first['reason']}{more}"
    return json_error(400, f"persona {nhs} not stored: {why}", field=first["path"], errors=rows)


@bp.put("/personas/<nhs>")
def put_persona(nhs):
    """Create (201) or replace (200) one persona, for every worker at once. application/json: a
    persona (docs/personas/format.md); application/fhir+json: a GP Connect structured Bundle, imported."""
    runtime = _runtime()
    label = runtime_label(nhs)
    if not nhs_numbers.is_valid(nhs):
        return _bad_persona([PersonaError(label, "nhs_number (URL)",
                                          f"{nhs!r} is not a valid NHS number (10 digits, Mod-11 check digit)")], nhs)
    raw = request.get_data(cache=False) if _has_body() else b""    # at most max_persona_body_bytes (_limit_body)
    request._cached_data = None               # a chunked body read by _limit_body: this is its only copy now
    if not raw:
        return _bad_persona([PersonaError(label, "$", "is empty: send a persona as JSON")], nhs)
    bundle = request.mimetype == "application/fhir+json"
    source = request.args.get("source", "").strip()[:200]
    allow_invalid = request.args.get("allow_invalid", "false").lower() == "true"
    # A large body is parsed, imported and checked in a forked child (mockprovider.process.offload):
    # this worker only ever holds its bytes and the text to store.
    known = frozenset(p.nhs_number for p in runtime.personas) | {nhs}     # for a retained PDS record
    kind, *out = offload.in_child(len(raw), prepare_persona, raw, bundle, nhs, runtime.cast.directory,
                                  allow_invalid, source, runtime.practices, known)
    del raw
    if kind == "unsupported":
        return json_error(415, out[0], field="Content-Type")
    if kind == "bad":
        errors, headline = out
        return _bad_persona([PersonaError(label, path, reason) for path, reason in errors], nhs, headline)
    existed = runtime.personas.get(nhs) is not None
    text = out[0]
    runtime.control.put_persona(nhs, text)
    del text
    runtime.sync_personas()
    response = jsonify(_persona_row(nhs))
    response.status_code = 200 if existed else 201
    response.headers["Location"] = f"/_control/personas/{nhs}"
    return response


def prepare_persona(raw: bytes, bundle: bool, nhs: str, directory: str, allow_invalid: bool = False,
                    source: str = "", registry=None, known: frozenset = frozenset()) -> tuple:
    """A PUT body -> ("ok", the persona's JSON text to store) or ("bad", [(path, reason)], headline
    or None) or ("unsupported", why). No Flask: it may run in a forked child. ``registry``: the
    practices registry its ``practice`` must be in; ``known``: the NHS numbers a ``pds.superseded_by``
    may name."""
    label = runtime_label(nhs)
    try:
        data = parse(raw, label)
    except PersonaError as exc:
        return "bad", [(exc.path, exc.reason)], None
    del raw
    if bundle:
        if not allow_invalid:
            problems = not_stu3(data)
            if problems:
                return "bad", problems, f"the Bundle {refusal(problems)}; ?allow_invalid=true imports it anyway"
        try:
            data = _import_bundle(data, nhs, source)
        except _NotSupported as exc:
            return "unsupported", str(exc)
        except PersonaError as exc:      # bundle_import.BundleImportError: .problems, every one
            problems = getattr(exc, "problems", None) or [(exc.path, exc.reason)]
            return "bad", list(problems), None
    if isinstance(data, dict):
        data.setdefault("nhs_number", nhs)
    fill_generated_sha256(data)
    errors = contract.check(data, label, directory)
    if registry is not None:     # its practice registered, its retained record in the cast
        errors += practice_mistakes(registry, data, label, known)
    if isinstance(data, dict) and isinstance(data["nhs_number"], str) and data["nhs_number"] != nhs \
            and not any(e.path == "$.nhs_number" for e in errors):
        errors.insert(0, PersonaError(label, "$.nhs_number", f"{data['nhs_number']!r} is not the NHS number "
                                                             f"in the URL ({nhs})"))
    if errors:
        return "bad", [(e.path, e.reason) for e in errors], None
    return "ok", json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class _NotSupported(Exception):
    pass


def _import_bundle(bundle, nhs: str, source: str = "") -> dict:
    """A structured Bundle -> a persona dict (mockprovider.personas.bundle_import, issue #14).
    Its source (the description "Imported from …", ``fhir_record.source``) is ``?source=`` (the
    control CLI sends the file name), else the Bundle's own id, never the NHS number it was given."""
    try:
        from ..personas.bundle_import import import_bundle
    except ImportError:
        raise _NotSupported("Content-Type application/fhir+json (a structured Bundle to import) is not "
                            "supported by this build yet; send a persona as application/json") from None
    if not source:
        bundle_id = bundle.get("id") if isinstance(bundle, dict) else None
        source = f"Bundle {bundle_id}" if isinstance(bundle_id, str) and bundle_id else "a Bundle put over the control API"
    return import_bundle(bundle, nhs_number=nhs, documents_dir=None, source=source, copy=False)


@bp.delete("/personas/<nhs>")
def delete_persona(nhs):
    runtime = _runtime()
    if runtime.personas.get(nhs) is None:
        return json_error(404, f"no persona with NHS number {nhs}", field="nhs_number")
    runtime.control.delete_persona(nhs)
    runtime.sync_personas()
    return jsonify({"status": "deleted", "nhs_number": nhs})


@bp.post("/personas/reload")
def reload_personas():
    """Re-read the personas folder (every worker); run-time personas stay on top. A folder with a
    mistake changes nothing: 400 with every mistake (file, JSON path, reason)."""
    runtime = _runtime()
    directory = runtime.cast.directory
    store, errors = PersonaStore.check(directory)
    if errors:
        rows = [{"file": e.file, "path": e.path, "reason": e.reason} for e in errors]
        return json_error(400, f"personas folder not reloaded: {errors[0]}"
                               + (f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""),
                          field="personas", errors=rows)
    runtime.control.reload_personas()
    runtime.sync_personas()
    return jsonify({"status": "reloaded", "folder": directory, "folder_personas": len(store),
                    "personas": len(runtime.personas)})


@bp.get("/requests")
def requests_journal():
    raw = request.args.get("limit")
    limit = None
    if raw is not None:
        if not raw.isdigit():
            return json_error(400, "'limit' must be a whole number >= 0", field="limit")
        limit = int(raw)
    filters = {name: request.args[name].strip() for name in ("trace_id", "interaction", "status")
               if request.args.get(name, "").strip()}
    if not filters:
        return jsonify(_runtime().control.journal(limit))
    status = filters.get("status", "").lower()
    if status and not re.fullmatch(r"[1-5][0-9][0-9]|[1-5]xx|none", status):
        return json_error(400, "'status' is a status (404), a class (4xx) or none (no response)", field="status")
    rows = [row for row in _runtime().control.journal() if _journal_row_matches(row, filters, status)]
    return jsonify(rows if limit is None else rows[:limit])


def _journal_row_matches(row: dict, filters: dict, status: str) -> bool:
    """``trace_id`` (any case), ``interaction`` and ``status`` (404, 4xx or none) all hold."""
    if "trace_id" in filters and (row.get("trace_id") or "").lower() != filters["trace_id"].lower():
        return False
    if "interaction" in filters and row.get("interaction") != filters["interaction"]:
        return False
    if status:
        answered = row.get("status")
        if status == "none":
            return answered is None
        if answered is None or (str(answered) != status and f"{str(answered)[0]}xx" != status):
            return False
    return True


@bp.delete("/requests")
def clear_requests():
    _runtime().control.clear_journal()
    return jsonify({"status": "cleared"})


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest):
    """No route for this method: 405 with ``Allow`` when the path has other methods, else 404."""
    allowed = allowed_methods(request.environ)
    if allowed:
        return method_not_allowed(request.method, request.path, allowed)
    return json_error(404, f"no control endpoint /_control/{rest}")


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(environ) -> list[str]:
    """The methods some control or console route (not this catch-all) answers on this path."""
    adapter = current_app.url_map.bind_to_environ(environ)
    allowed = []
    for method in _METHODS:
        try:
            endpoint, _ = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint != "control.unknown":
            allowed.append(method)
    if "GET" in allowed:
        allowed.insert(allowed.index("GET") + 1, "HEAD")
    return allowed


def method_not_allowed(method: str, path: str, allowed) -> "Response":
    response = json_error(405, f"method {method} is not allowed on {path} (allowed: {', '.join(allowed)})",
                          field="method")
    response.headers["Allow"] = ", ".join(allowed)
    return response
