"""Every FHIR path goes through :func:`dispatch`: gate -> faults -> interaction -> response.

Fault rules (mockprovider.http.faults) apply after the gate, so a request that fails the gate
gets its gate error, never a fault.

Nothing on a FHIR path ever answers with HTML or a stack trace: every failure, including an
unexpected exception, becomes a GPConnect-OperationOutcome-1 (the one exception is the
``malformed`` fault, whose whole point is a body that is not JSON).
"""
from __future__ import annotations

import ipaddress
import logging
import os
import re
import time

from flask import Blueprint, current_app, g, request
from werkzeug.exceptions import MethodNotAllowed, NotFound

from ..domain.control import now_iso
from ..errors import SpineError
from ..interactions import (Call, Reply, find_patient, metadata, migrate_document, migrate_structured,
                            read_patient, retrieve_document, search_documents)
from . import control_api, faults, gate
from .responses import accepts_gzip, error_response, reply_response

log = logging.getLogger("mockprovider")

bp = Blueprint("fhir", __name__)

# interaction name -> handler(Call) -> Reply. An interaction in the routes table with no handler
# here answers 501 NOT_IMPLEMENTED and is left out of the CapabilityStatement.
HANDLERS = {
    "metadata": metadata.handle,
    "metadata_structured": metadata.handle,
    "metadata_documents": metadata.handle,
    "migrate_document": migrate_document.handle,
    "retrieve_document": retrieve_document.handle,
    "find_patient": find_patient.handle,
    "read_patient": read_patient.handle,
    "search_documents": search_documents.handle,
    "migrate_structured": migrate_structured.handle,
}

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]


def _read_body(limit: int) -> bytes:
    """The request body, never more than limit + 1 bytes (a chunked body has no length)."""
    if request.content_length == 0 or request.method in ("GET", "HEAD"):
        return b""
    try:
        return request.stream.read(limit + 1)
    except Exception as exc:
        # The server reports broken framing (a bad chunk size, a body shorter than its
        # Content-Length) while the body is read: the client's malformed request, not a 500.
        raise SpineError("BAD_REQUEST", f"Request body could not be read ({type(exc).__name__}): "
                                        "malformed chunked encoding or an incomplete body") from None


# request.host_url -> origin, remembered per (scheme, Host, server, script root): werkzeug's
# host_url re-parses and IRI-decodes the host on every call (~20 us), the answer never changes.
_ORIGINS: dict = {}


def _request_origin() -> str:
    env = request.environ
    key = (env.get("wsgi.url_scheme"), env.get("HTTP_HOST"), env.get("SERVER_NAME"),
           env.get("SERVER_PORT"), env.get("SCRIPT_NAME"))
    origin = _ORIGINS.get(key)
    if origin is None:
        origin = request.host_url.rstrip("/")
        if len(_ORIGINS) < 256:          # bounded: Host is whatever the client sends
            _ORIGINS[key] = origin
    return origin


def _query_format() -> str | None:
    """The first ``_format`` query value, or None (as ``request.args.get`` gives it, without
    werkzeug raising and catching a BadRequestKeyError on every request that has none)."""
    if not request.environ.get("QUERY_STRING"):
        return None
    values = request.args.getlist("_format")
    return values[0] if values else None


_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?\Z|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?\Z")
_PROXIED_RE = re.compile(r"^/(https?):/+([^/]+)\Z")


def _trusted(settings, remote: str | None) -> bool:
    """Whether the peer is one of ``trusted_proxies`` (IPs or CIDRs, ``*`` for any)."""
    trusted = settings.trusted_proxies.strip()
    if not trusted or not remote:
        return False
    if trusted == "*":
        return True
    networks = _TRUSTED.get(trusted)
    if networks is None:
        networks = _TRUSTED[trusted] = [ipaddress.ip_network(item.strip(), strict=False)
                                        for item in trusted.split(",") if item.strip()]
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    return any(address in network for network in networks)


_TRUSTED: dict = {}


def consumer_origin(settings, target) -> str:
    """The scheme and host the consumer called, for absolute URLs it will follow verbatim:
    1. ``public_base_url`` when set;
    2. the provider host of the Spine-proxy form (``/https://provider.host/{ODS}/...``): the
       consumer puts the proxy prefix in front of the URL itself (assurance-suite.md §1);
    3. ``X-Forwarded-Proto`` / ``X-Forwarded-Host`` when the peer is a trusted proxy;
    4. the request's own scheme and Host."""
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    if target.proxy_prefix:
        m = _PROXIED_RE.match(target.proxy_prefix)
        if m and _HOST_RE.match(m.group(2)):
            return f"{m.group(1)}://{m.group(2)}"
    env = request.environ
    if settings.trusted_proxies and (env.get("HTTP_X_FORWARDED_HOST") or env.get("HTTP_X_FORWARDED_PROTO")) \
            and _trusted(settings, env.get("REMOTE_ADDR")):
        origin = _request_origin()
        scheme, _, host = origin.partition("://")
        proto = (env.get("HTTP_X_FORWARDED_PROTO") or "").split(",")[0].strip().lower()
        forwarded_host = (env.get("HTTP_X_FORWARDED_HOST") or "").split(",")[0].strip()
        if proto in ("http", "https"):
            scheme = proto
        if forwarded_host and _HOST_RE.match(forwarded_host):
            host = forwarded_host
        return f"{scheme}://{host}"
    return _request_origin()


def _bases(runtime, target) -> tuple[str, str]:
    settings = runtime.settings
    origin = consumer_origin(settings, target)
    practice = f"{origin}/{target.ods}/STU3/1"
    documents_root = target.root if target.kind in ("documents", "all") else "gpconnect/documents/fhir"
    return f"{practice}/{target.root}", f"{practice}/{documents_root}"


@bp.route("/", defaults={"path": ""}, methods=ALL_METHODS, provide_automatic_options=False)
@bp.route("/<path:path>", methods=ALL_METHODS, provide_automatic_options=False)
def dispatch(path):
    runtime = current_app.extensions["mockprovider"]
    started = time.perf_counter()
    view = runtime.control.current()          # flags and fault rules: one cached read
    if view.personas_version > runtime.personas_version:   # a persona was put, deleted or reloaded
        runtime.sync_personas(view.personas_version)
    flags = view.flags
    req = request._get_current_object()       # one proxy lookup, not one per attribute
    env = req.environ
    headers = EnvHeaders(env)
    method = env["REQUEST_METHOD"]
    # The journal never records headers (so never a bearer token): only these fields.
    entry = {"time": now_iso(), "method": method, "path": req.path, "interaction": None,
             "trace_id": headers.get("Ssp-TraceID"), "consumer_asid": headers.get("Ssp-From"),
             "status": None, "spine_code": None, "diagnostics": None, "findings": [], "worker": _PID()}
    g.journal_entry = entry                   # for the access log line
    injected = passed = None
    try:
        passed = gate.check_request(
            path=env.get("PATH_INFO", "/"), method=method, headers=headers,
            query_format=_query_format(), body_length=req.content_length,
            settings=runtime.settings, flags=flags)
        entry["interaction"] = passed.interaction.name
        entry["findings"] = passed.findings
        body = _read_body(runtime.settings.max_body_bytes)
        if len(body) > runtime.settings.max_body_bytes:
            raise SpineError("BAD_REQUEST", f"Request body is over the limit of {runtime.settings.max_body_bytes} bytes")
        query = ([(k, v) for k, v in request.args.items(multi=True) if k != "_format"]
                 if request.environ.get("QUERY_STRING") else [])   # no query: no parsing
        injected = faults.take(runtime.control, view.rules,
                               faults.Facts(passed.interaction.name, passed.params, passed.from_asid, body, query),
                               request.environ)
        response = None
        if injected is not None:
            entry["fault"] = injected.record()
            injected.wait()
            response = injected.answer(request.url, passed.format)
        if response is None:
            response = _interaction(runtime, passed, body, query, flags, entry)
    except SpineError as error:
        response = error_response(error, flags.get("error_display", "codesystem"), _error_format(passed))
        _explain(entry, error, runtime)
    except Exception as exc:  # never a stack trace on a FHIR path
        log.exception("unexpected error on %s %s", request.method, request.path)
        error = SpineError("INTERNAL_SERVER_ERROR", f"Unexpected {type(exc).__name__} in the mock")
        response = error_response(error, flags.get("error_display", "codesystem"), _error_format(passed))
        _explain(entry, error, runtime)
    if injected is not None:
        response = injected.deliver(response)
    # reset / empty: the client gets no HTTP status at all.
    entry["status"] = None if injected is not None and injected.kind in ("reset", "empty") else response.status_code
    entry["ms"] = round((time.perf_counter() - started) * 1000, 3)
    try:
        runtime.control.record(entry)
    except Exception:  # the journal must never break a response
        log.exception("could not record the request in the journal")
    return response


class EnvHeaders:
    """Request headers read straight from the WSGI environ (``get`` only): what the gate needs,
    without werkzeug's EnvironHeaders key normalisation on every lookup."""

    __slots__ = ("_env",)
    _KEYS: dict = {"Content-Type": "CONTENT_TYPE", "Content-Length": "CONTENT_LENGTH"}

    def __init__(self, env):
        self._env = env

    def get(self, name, default=None):
        key = self._KEYS.get(name)
        if key is None:
            key = "HTTP_" + name.upper().replace("-", "_")
            if len(self._KEYS) < 256:
                self._KEYS[name] = key
        return self._env.get(key, default)


_PID = os.getpid


def _explain(entry: dict, error: SpineError, runtime) -> None:
    """An error answer's journal fields: its Spine code and diagnostics, and the interaction
    whenever the path (with the verb and Ssp-InteractionID) names one, even when the gate refused
    the request before it got that far."""
    entry["error"] = entry["spine_code"] = error.code
    entry["diagnostics"] = error.diagnostics
    if entry["interaction"] is None:
        env = request.environ
        entry["interaction"] = gate.identify(env.get("PATH_INFO", "/"), env["REQUEST_METHOD"],
                                             env.get("HTTP_SSP_INTERACTIONID"))


def _error_format(passed) -> str:
    """An OperationOutcome goes out in the negotiated format; before (or when) the gate rejected
    the request, in the format it asked for if that is one the mock serves, else JSON."""
    if passed is not None:
        return passed.format
    try:
        env = request.environ             # the headers straight from the environ (as EnvHeaders)
        return gate.preferred_format(env.get("HTTP_ACCEPT"), _query_format(), env.get("CONTENT_TYPE"))
    except Exception:
        return "json"


def _interaction(runtime, passed, body, query, flags, entry):
    handler = HANDLERS.get(passed.interaction.name)
    if handler is None:
        raise SpineError("NOT_IMPLEMENTED", f"{passed.interaction.name} is not implemented by this mock yet")
    service_base, documents_base = _bases(runtime, passed.target)
    call = Call(interaction=passed.interaction.name, params=passed.params, query=query,
                body=body, claims=passed.claims, trace_id=passed.trace_id, from_asid=passed.from_asid,
                flags=flags, runtime=runtime, root_kind=passed.target.kind,
                service_base=service_base, documents_base=documents_base,
                format=passed.format, body_format=passed.body_format)
    reply: Reply = handler(call)
    entry.update(reply.facts)
    return reply_response(reply.body, reply.status, reply.headers, reply.content_length, passed.format,
                          accepts_gzip(request.headers.get("Accept-Encoding")))


@bp.app_errorhandler(MethodNotAllowed)
@bp.app_errorhandler(NotFound)
def unrouted(error):
    """What Werkzeug's router cannot place must not get its HTML page: a method no route lists
    (TRACE, PROPFIND, ``A``...) or a path the ``<path:>`` converter does not match (one with a
    newline, ``%0A``). On a FHIR path it goes through the gate like any request (unknown path ->
    501, known path -> 400); on the control API it is a JSON 405 / 404."""
    if request.path == "/_control" or request.path.startswith("/_control/"):
        if isinstance(error, MethodNotAllowed):
            return control_api.json_error(405, f"method {request.method} is not allowed on {request.path}")
        return control_api.json_error(404, f"no control endpoint {request.path}")
    return dispatch(request.path)
