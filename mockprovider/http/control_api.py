"""The control API under /_control/: health, state, flags, faults, reset, request journal
(filtered by ``trace_id``, ``interaction`` and ``status``). More in control_details.py.

JSON in, JSON out; kept out of the FHIR roots. A bad request is 400 ``{"error": ..., "field": ...}``
naming the offending field. When MOCKPROVIDER_CONTROL_TOKEN is set every call but health needs
``Authorization: Bearer <token>`` (compared in constant time). Control calls are never journalled
(the journal holds FHIR requests only), so the token never lands in it.
"""
from __future__ import annotations

import hmac
import re

from flask import Blueprint, current_app, jsonify, request

from ..config import RUNTIME_FLAGS, SettingsError, check_flag_value
from ..domain.faults import FaultRuleError, check_rule

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
    sent = request.headers.get("Authorization", "")
    expected = f"Bearer {token}"
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        response = json_error(401, "control API needs Authorization: Bearer <MOCKPROVIDER_CONTROL_TOKEN>")
        response.headers["WWW-Authenticate"] = 'Bearer realm="mockprovider-control"'
        return response
    return None


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/health")
def health():
    runtime = _runtime()
    return jsonify({"status": "ok", "personas": len(runtime.personas), "ods_code": runtime.settings.ods_code})


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
    control = _runtime().control
    control.reset()
    return jsonify({"status": "reset", **control.snapshot()})


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
    return json_error(404, f"no control endpoint /_control/{rest}")
