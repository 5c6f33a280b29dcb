"""The control API under /_control/: health, state, flags, faults, reset, request journal.

JSON in, JSON out; kept out of the FHIR roots. When MOCKPROVIDER_CONTROL_TOKEN is set every call
but health needs ``Authorization: Bearer <token>`` (compared in constant time).
"""
from __future__ import annotations

import hmac

from flask import Blueprint, current_app, jsonify, request

from ..config import SettingsError

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
        return json_error(401, "control API needs Authorization: Bearer <MOCKPROVIDER_CONTROL_TOKEN>")
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
    runtime = _runtime()
    return jsonify({**runtime.control.snapshot(), "journal_size": runtime.settings.journal_size,
                    "personas": len(runtime.personas)})


@bp.get("/flags")
def get_flags():
    return jsonify(dict(_runtime().control.flags()))


@bp.patch("/flags")
def patch_flags():
    changes = request.get_json(silent=True)
    if not isinstance(changes, dict):
        return json_error(400, "send a JSON object of flag names and values")
    try:
        return jsonify(dict(_runtime().control.update_flags(changes)))
    except SettingsError as exc:
        return json_error(400, str(exc))


@bp.post("/reset")
def reset():
    control = _runtime().control
    control.reset()
    return jsonify({"status": "reset", **control.snapshot()})


@bp.get("/requests")
def requests_journal():
    limit = request.args.get("limit", type=int)
    return jsonify(_runtime().control.journal(limit))


@bp.delete("/requests")
def clear_requests():
    _runtime().control.clear_journal()
    return jsonify({"status": "cleared"})


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest):
    return json_error(404, f"no control endpoint /_control/{rest}")
