"""Every FHIR path goes through :class:`FhirFront`: gate -> faults -> interaction -> answer.

The front is plain WSGI in front of the Flask app: a FHIR request (any path outside ``/_control``
and ``/_console``) never enters Flask's request context, routing or response machinery, which
were about 40 % of a small request's CPU. Flask serves the control API and the console only.

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

from werkzeug.wrappers import Request
from werkzeug.wsgi import get_content_length, get_input_stream

from ..errors import SpineError
from ..state.control import now_iso
from ..interactions import (Call, Reply, find_patient, metadata, migrate_document, migrate_structured,
                            read_patient, retrieve_document, retrieve_structured, search_documents)
from . import access_log, faults, gate, journal, lookups, ssp
from .responses import Answer, accepts_gzip, error_response, reply_response

log = logging.getLogger("mockprovider")

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
    "retrieve_structured": retrieve_structured.handle,
}

HSTS = "max-age=31536000"   # one year: every answer over HTTPS (mockprovider.http.security)
_FLASK_PREFIXES = ("/_control/", "/_console/")
_FLASK_PATHS = frozenset({"/_control", "/_console"})


def is_fhir_path(path_info: str) -> bool:
    """Whether the front answers this WSGI PATH_INFO itself (everything but control and console)."""
    return not (path_info in _FLASK_PATHS or path_info.startswith(_FLASK_PREFIXES))


class LazyRequest:
    """The request's path at once (as werkzeug decodes it); a werkzeug Request only when a
    query, a body, the URL or the host is needed (about 10 us a request saved otherwise)."""

    __slots__ = ("environ", "path", "_request")

    def __init__(self, environ):
        self.environ = environ
        self.path = "/" + environ.get("PATH_INFO", "").encode("latin1").decode(errors="replace").lstrip("/")
        self._request = None

    def _full(self) -> Request:
        if self._request is None:
            self._request = Request(self.environ)
        return self._request

    @property
    def method(self) -> str:
        return self.environ["REQUEST_METHOD"]

    @property
    def content_length(self):
        return get_content_length(self.environ)

    @property
    def stream(self):
        return get_input_stream(self.environ)      # what werkzeug's Request.stream gives

    @property
    def args(self):
        return self._full().args

    @property
    def url(self) -> str:
        return self._full().url

    @property
    def host_url(self) -> str:
        return self._full().host_url


class FhirFront:
    """The WSGI application: FHIR paths answered here, the rest handed to the Flask app."""

    def __init__(self, flask_wsgi, runtime, settings):
        self.flask_wsgi = flask_wsgi
        self.runtime = runtime
        self.log_format = settings.log_format if settings.access_log else None

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        if not is_fhir_path(environ.get("PATH_INFO", "")):
            # Control and console: Flask answers; a FHIR answer it gives (an unrouted console
            # path) leaves its journal entry in the environ (``unrouted`` below).
            status = []

            def started_response(line, headers, exc_info=None):
                status[:] = [int(line.split(" ", 1)[0]), time.perf_counter()]
                return start_response(line, headers, exc_info)
            body = self.flask_wsgi(environ, started_response)
            return access_log.Tracked(body, started, lambda total, sent, complete: self._over(
                environ, started, status, total, sent, complete))
        if lookups.owns(environ.get("PATH_INFO", "")):      # SDS, PDS, the token endpoint (their own formats)
            answer, entry, req = lookups.handle(self.runtime, environ)
        else:
            answer, entry, req = handle(self.runtime, environ)
        if environ.get("wsgi.url_scheme") == "https":
            answer.headers.append(("Strict-Transport-Security", HSTS))
        ready = [entry.get("status"), time.perf_counter()]
        return access_log.Tracked(answer(environ, start_response), started,
                                  lambda total, sent, complete: self._over(environ, started, ready, total, sent,
                                                                           complete, req.path))

    def _over(self, environ, started, status, total_ms, sent, complete, path=None):
        """An answer is over (sent, or cut): finish its journal entry, then write its access line."""
        entry = environ.get(journal.ENTRY_KEY)
        if entry is not None:
            journal.finish(self.runtime, environ, total_ms, sent, complete)
        if self.log_format is None:
            return
        ms = round((status[1] - started) * 1000, 1) if len(status) > 1 else None
        if entry is not None:        # a FHIR answer: the journal's facts (status None: a reset/empty fault)
            access_log.write_line(self.log_format, environ["REQUEST_METHOD"], path or entry.get("path"),
                                  entry.get("status"), ms, entry.get("trace_id", environ.get("HTTP_SSP_TRACEID")),
                                  entry.get("interaction"), entry.get("spine_code"), total_ms, sent, complete)
        else:
            req_path = path or "/" + environ.get("PATH_INFO", "").encode("latin1").decode(errors="replace").lstrip("/")
            access_log.write_line(self.log_format, environ["REQUEST_METHOD"], req_path, status[0] if status else None,
                                  ms, environ.get("HTTP_SSP_TRACEID"), None, None, total_ms, sent, complete)


def _read_body(req: LazyRequest, limit: int) -> bytes:
    """The request body, never more than limit + 1 bytes (a chunked body has no length)."""
    if req.content_length == 0 or req.method in ("GET", "HEAD"):
        return b""
    try:
        return req.stream.read(limit + 1)
    except Exception as exc:
        # The server reports broken framing (a bad chunk size, a body shorter than its
        # Content-Length) while the body is read: the client's malformed request, not a 500.
        raise SpineError("BAD_REQUEST", f"Request body could not be read ({type(exc).__name__}): "
                                        "malformed chunked encoding or an incomplete body") from None


# request.host_url -> origin, remembered per (scheme, Host, server, script root): werkzeug's
# host_url re-parses and IRI-decodes the host on every call (~20 us), the answer never changes.
_ORIGINS: dict = {}


def _request_origin(req: LazyRequest) -> str:
    env = req.environ
    key = (env.get("wsgi.url_scheme"), env.get("HTTP_HOST"), env.get("SERVER_NAME"),
           env.get("SERVER_PORT"), env.get("SCRIPT_NAME"))
    origin = _ORIGINS.get(key)
    if origin is None:
        origin = req.host_url.rstrip("/")
        if len(_ORIGINS) < 256:          # bounded: Host is whatever the client sends
            _ORIGINS[key] = origin
    return origin


def _query_format(req: LazyRequest) -> str | None:
    """The first ``_format`` query value, or None (as ``request.args.get`` gives it, without
    werkzeug raising and catching a BadRequestKeyError on every request that has none)."""
    if not req.environ.get("QUERY_STRING"):
        return None
    values = req.args.getlist("_format")
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


def consumer_origin(settings, target, req: LazyRequest) -> str:
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
    env = req.environ
    if settings.trusted_proxies and (env.get("HTTP_X_FORWARDED_HOST") or env.get("HTTP_X_FORWARDED_PROTO")) \
            and _trusted(settings, env.get("REMOTE_ADDR")):
        origin = _request_origin(req)
        scheme, _, host = origin.partition("://")
        proto = (env.get("HTTP_X_FORWARDED_PROTO") or "").split(",")[0].strip().lower()
        forwarded_host = (env.get("HTTP_X_FORWARDED_HOST") or "").split(",")[0].strip()
        if proto in ("http", "https"):
            scheme = proto
        if forwarded_host and _HOST_RE.match(forwarded_host):
            host = forwarded_host
        return f"{scheme}://{host}"
    return _request_origin(req)


def _bases(runtime, target, req: LazyRequest, practice=None) -> tuple[str, str]:
    """(the service root the request used, the documents root attachment URLs point at): the root
    called when it holds documents, else the practice's published documents root."""
    settings = runtime.settings
    origin = consumer_origin(settings, target, req)
    base = f"{origin}/{target.ods}/STU3/1"
    if target.kind in ("documents", "all"):
        documents_root = target.root
    else:
        documents_root = practice.documents_root() if practice is not None else "gpconnect/documents/fhir"
    return f"{base}/{target.root}", f"{base}/{documents_root}"


def handle(runtime, environ) -> tuple[Answer, dict, LazyRequest]:
    """One FHIR request -> (its answer, its journal entry, the request). Never raises."""
    started = time.perf_counter()
    view = runtime.control.current()          # flags and fault rules: one cached read
    if view.personas_version > runtime.personas_version:   # a persona was put, deleted or reloaded
        runtime.sync_personas(view.personas_version)
    flags = view.flags
    req = LazyRequest(environ)
    headers = EnvHeaders(environ)
    method = environ["REQUEST_METHOD"]
    # The journal never records headers (so never a bearer token): only these fields.
    entry = {"time": now_iso(), "method": method, "path": req.path, "interaction": None,
             "trace_id": headers.get("Ssp-TraceID"), "consumer_asid": headers.get("Ssp-From"),
             "status": None, "spine_code": None, "diagnostics": None, "findings": [], "worker": _PID()}
    injected = passed = None
    try:
        body_length = req.content_length
        # the Spine Secure Proxy's refusals: only for the proxy form (/http…), so a direct request pays nothing
        if environ.get("PATH_INFO", "").startswith("/http") and (flags.get("ssp_checks")
                                                                 or runtime.practices.unreachable):
            refused = ssp.check(runtime, environ, headers, flags)
            if refused is not None:
                return ssp.refusal(refused, entry, runtime, started, environ), entry, req
        passed = gate.check_request(
            path=environ.get("PATH_INFO", "/"), method=method, headers=headers,
            query_format=_query_format(req), body_length=body_length,
            settings=runtime.settings, flags=flags, registry=runtime.practices)
        entry["interaction"] = passed.interaction.name
        entry["findings"] = passed.findings
        body = _read_body(req, runtime.settings.max_body_bytes)
        if len(body) > runtime.settings.max_body_bytes:
            raise SpineError("BAD_REQUEST", f"Request body is over the limit of {runtime.settings.max_body_bytes} bytes")
        query = ([(k, v) for k, v in req.args.items(multi=True) if k != "_format"]
                 if environ.get("QUERY_STRING") else [])   # no query: no parsing
        injected = faults.take(runtime.control, view.rules,
                               faults.Facts(passed.interaction.name, passed.params, passed.from_asid, body, query,
                                            ods=passed.target.ods, path=req.path),
                               environ)
        response = None
        if injected is not None:
            entry["fault"] = injected.record()
            injected.wait()
            response = injected.answer(req.url, passed.format)
        if response is None:
            response = _interaction(runtime, passed, body, query, flags, entry, req)
    except SpineError as error:
        response = error_response(error, flags.get("error_display", "codesystem"), _error_format(passed, req))
        _explain(entry, error, environ)
    except Exception as exc:  # never a stack trace on a FHIR path
        log.exception("unexpected error on %s %s", method, req.path)
        error = SpineError("INTERNAL_SERVER_ERROR", f"Unexpected {type(exc).__name__} in the mock")
        response = error_response(error, flags.get("error_display", "codesystem"), _error_format(passed, req))
        _explain(entry, error, environ)
    if injected is not None:
        response = injected.deliver(response)
    # reset / empty: the client gets no HTTP status at all.
    entry["status"] = None if injected is not None and injected.kind in ("reset", "empty") else response.status
    entry["ms"] = round((time.perf_counter() - started) * 1000, 3)
    # How the answer goes out: set when it is over (FhirFront._over); null while it is sent.
    journal.record(runtime, environ, entry)
    return response, entry, req


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


def _explain(entry: dict, error: SpineError, env) -> None:
    """An error answer's journal fields: its Spine code and diagnostics, and the interaction
    whenever the path (with the verb and Ssp-InteractionID) names one, even when the gate refused
    the request before it got that far."""
    entry["error"] = entry["spine_code"] = error.code
    entry["diagnostics"] = error.diagnostics
    if entry["interaction"] is None:
        known = getattr(error, "interaction", _UNKNOWN)     # the gate names it when it resolved the path
        entry["interaction"] = known if known is not _UNKNOWN else gate.identify(
            env.get("PATH_INFO", "/"), env["REQUEST_METHOD"], env.get("HTTP_SSP_INTERACTIONID"))


_UNKNOWN = object()


def _error_format(passed, req: LazyRequest) -> str:
    """An OperationOutcome goes out in the negotiated format; before (or when) the gate rejected
    the request, in the format it asked for if that is one the mock serves, else JSON."""
    if passed is not None:
        return passed.format
    try:
        env = req.environ                 # the headers straight from the environ (as EnvHeaders)
        return gate.preferred_format(env.get("HTTP_ACCEPT"), _query_format(req), env.get("CONTENT_TYPE"))
    except Exception:
        return "json"


def _interaction(runtime, passed, body, query, flags, entry, req: LazyRequest):
    handler = HANDLERS.get(passed.interaction.name)
    if handler is None:
        raise SpineError("NOT_IMPLEMENTED", f"{passed.interaction.name} is not implemented by this mock yet")
    service_base, documents_base = _bases(runtime, passed.target, req, passed.practice)
    call = Call(interaction=passed.interaction.name, params=passed.params, query=query,
                body=body, claims=passed.claims, trace_id=passed.trace_id, from_asid=passed.from_asid,
                flags=flags, runtime=runtime, root_kind=passed.target.kind,
                service_base=service_base, documents_base=documents_base,
                format=passed.format, body_format=passed.body_format, practice=passed.practice)
    reply: Reply = handler(call)
    entry.update(reply.facts)
    return reply_response(reply.body, reply.status, reply.headers, reply.content_length, passed.format,
                          accepts_gzip(req.environ.get("HTTP_ACCEPT_ENCODING")))


def init_app(app, runtime, settings) -> None:
    """Put the FHIR front before the Flask app, and send what Flask's router cannot place to the
    same answers as before: a control path gets a JSON 404/405, anything else (an unknown
    console path) the FHIR gate's OperationOutcome, never Werkzeug's HTML page."""
    from flask import request                             # the Flask side of the HTTP layer
    from werkzeug.exceptions import MethodNotAllowed, NotFound
    from . import control_api

    def unrouted(error):
        if request.path == "/_control" or request.path.startswith("/_control/"):
            if isinstance(error, MethodNotAllowed):
                return control_api.method_not_allowed(request.method, request.path,
                                                      control_api.allowed_methods(request.environ))
            return control_api.json_error(404, f"no control endpoint {request.path}")
        answer, _, _ = handle(runtime, request.environ)   # its entry stays in the environ (access line, journal)
        return answer

    app.register_error_handler(MethodNotAllowed, unrouted)
    app.register_error_handler(NotFound, unrouted)
    app.wsgi_app = FhirFront(app.wsgi_app, runtime, settings)
