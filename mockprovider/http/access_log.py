"""What the server prints on stdout: one start-up line, then one access-log line per request.

``MOCKPROVIDER_LOG_FORMAT=text`` (default) or ``json`` (one JSON object a line, for log shippers);
``MOCKPROVIDER_ACCESS_LOG=false`` turns the per-request lines off (the start-up line stays).

An access line carries: time (UTC), method, path, status, ms, trace id (``Ssp-TraceID``), the
interaction and the Spine code of an error answer (the same facts as the request journal; the FHIR
front writes its own lines with :func:`write_line`), control calls have none.
A line is written with one ``write`` call, so lines from several workers never interleave, and a
path is escaped so that it can never break its line.
"""
from __future__ import annotations

import json
import sys
import time

from flask import g, request

from ..domain.control import now_iso

_UNSAFE = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7f)}
_UNSAFE[ord(" ")] = "%20"


def _text_value(value) -> str:
    if value is None or value == "":
        return "-"
    text = str(value)
    if text.isprintable() and " " not in text:     # the usual case: nothing to escape
        return text
    return text.translate(_UNSAFE)


def emit(fields: dict, log_format: str, text: str) -> None:
    line = json.dumps(fields, ensure_ascii=False, separators=(",", ":")) if log_format == "json" else text
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except (OSError, ValueError):     # stdout closed or gone: the answer matters more than the log
        pass


def write_line(log_format: str, method, path, status, ms, trace_id, interaction, spine_code) -> None:
    """One access line from its fields, only the chosen format built (the FHIR front calls this
    directly; the Flask hook below for control and console calls)."""
    if log_format == "json":
        emit({"time": now_iso(), "method": method, "path": path, "status": status, "ms": ms,
              "trace_id": trace_id, "interaction": interaction, "spine_code": spine_code}, log_format, "")
    else:
        emit(None, log_format,
             f"{now_iso()} {_text_value(method)} {_text_value(path)} {_text_value(status)} "
             f"{ms}ms trace={_text_value(trace_id)} interaction={_text_value(interaction)} "
             f"spine={_text_value(spine_code)}")


def init_app(app, settings) -> None:
    if not settings.access_log:
        return
    log_format = settings.log_format

    @app.before_request
    def _started():
        g.access_started = time.perf_counter()

    @app.after_request
    def _access_line(response):
        # One proxy lookup each for the request and g (werkzeug's LocalProxy costs ~1.5 us an
        # attribute). A FHIR answer sent from a Flask view (an unrouted console path) left its
        # journal entry in g.
        gobj = g._get_current_object()
        started = getattr(gobj, "access_started", None)
        ms = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
        entry = getattr(gobj, "journal_entry", None)
        req = request._get_current_object()
        if entry is not None:
            # a FHIR request: the journal's status (None when a reset/empty fault sent no HTTP status)
            write_line(log_format, req.method, req.path, entry.get("status"), ms,
                       entry.get("trace_id", req.environ.get("HTTP_SSP_TRACEID")),
                       entry.get("interaction"), entry.get("spine_code"))
        else:
            write_line(log_format, req.method, req.path, response.status_code, ms,
                       req.environ.get("HTTP_SSP_TRACEID"), None, None)
        return response


def startup_fields(settings, personas: int, personas_source: str, state_store: str, scheme: str) -> dict:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return {"event": "start", "url": f"{scheme}://{host}:{settings.port}", "practice": settings.ods_code,
            "provider_asid": settings.provider_asid, "personas": personas, "personas_source": personas_source,
            "personas_folder": settings.personas, "validation": settings.validation,
            "state_store": state_store, "workers": settings.workers, "threads": getattr(settings, "threads", None),
            "control_api": "protected" if settings.control_token else "open"}


def startup_text(f: dict) -> str:
    return (f"mockprovider serving {f['url']} practice {f['practice']} (ASID {f['provider_asid']}), "
            f"{f['personas']} personas ({f['personas_source']}: {f['personas_folder']}), "
            f"validation {f['validation']}, state {f['state_store']}, {f['workers']} workers"
            + (f" x {f['threads']} threads" if f.get("threads") else "")
            + (", control API protected (token)" if f.get("control_api") == "protected"
               else ", control API open (no token)"))
