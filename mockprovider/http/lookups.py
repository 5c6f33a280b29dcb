"""The look-up APIs' HTTP side: SDS FHIR API, PDS FHIR API and the OAuth 2.0 token endpoint.

Paths (plain WSGI, before Flask, like every FHIR path; mockprovider.http.fhir_views hands them here):

- ``/spine-directory/FHIR/R4/{Device,Endpoint}`` (also ``/spine-directory/{Device,Endpoint}``, the
  form the GPC Consumer Adaptor's own mocks serve): mockprovider.interactions.sds;
- ``/personal-demographics/FHIR/R4/Patient[/{nhs}]``: mockprovider.interactions.pds;
- ``/oauth2/token``: the token PDS's bearer tokens come from.

Header rules, in order. SDS (its specification and the service's handlers): ``apikey`` required
only when the flag ``sds_apikey`` is ``required`` (401; the API platform's check, so first); an
unknown path 404; any verb but GET 405 with ``Allow: GET``; ``X-Correlation-Id`` a UUID when sent
(400), echoed as ``X-Correlation-ID``, made up (deterministically) when absent; the query (400,
mockprovider.interactions.sds); ``Accept`` naming ``application/fhir+json``, ``application/json`` or
``*/*`` (absent: FHIR JSON), else 406. PDS (patient-get.yaml, patient-search.yaml): the bearer token
(``pds_auth``; 401 ACCESS_DENIED); ``X-Request-ID`` required and a UUID (400 MISSING_VALUE /
INVALID_VALUE), echoed with ``X-Correlation-ID``; a verb other than GET 403 INVALID_METHOD (this
mock reads and searches only).

One journal for all of it: every call is a journal entry (``interaction`` sds_device, sds_endpoint,
pds_read_patient, pds_search_patient or pds_token; ``query``; the look-up headers ``X-Correlation-Id``,
``X-Request-ID``, ``NHSD-End-User-Organisation-ODS`` and ``Accept``). Never an ``apikey``, an
``Authorization`` header or a client assertion: only whether one was sent. One fault-rule mechanism
(mockprovider.http.faults): rules match these calls by interaction, ``ods``, ``path`` or ``nhs_number``.
"""
from __future__ import annotations

import logging
import os
import time
import uuid
from urllib.parse import parse_qsl, unquote

from werkzeug.wrappers import Request

from ..fhir.lookups_outcome import outcome
from ..fhir.render import to_json_bytes
from ..interactions import pds, sds
from ..lookup_errors import LookupFailure, oauth, pds as pds_error, sds as sds_error
from ..personas.ids import NAMESPACE
from ..state.control import now_iso
from . import faults, journal
from .gate import UUID_RE
from .responses import Answer

log = logging.getLogger("mockprovider")

SDS_BASES = ("/spine-directory/FHIR/R4", "/spine-directory")
PDS_BASE = "/personal-demographics/FHIR/R4"
TOKEN_PATH = "/oauth2/token"
JOURNALED_HEADERS = ("X-Correlation-Id", "X-Request-ID", "NHSD-End-User-Organisation-ODS", "Accept")
FHIR_JSON = "application/fhir+json"
FORM_TYPE = "application/x-www-form-urlencoded"
FORM_LIMIT = 64 * 1024


def owns(path_info: str) -> bool:
    """Whether this module answers the path (the SDS and PDS bases, the token endpoint)."""
    return (path_info == TOKEN_PATH or path_info.startswith(("/spine-directory/", "/personal-demographics/"))
            or path_info in ("/spine-directory", "/personal-demographics"))


def _api_of(path: str) -> str:
    if path == TOKEN_PATH:
        return "oauth"
    return "sds" if path.startswith("/spine-directory") else "pds"


class _Headers:
    def __init__(self, environ):
        self.env = environ

    def get(self, name, default=None):
        key = {"Content-Type": "CONTENT_TYPE"}.get(name, "HTTP_" + name.upper().replace("-", "_"))
        return self.env.get(key, default)


def handle(runtime, environ) -> tuple[Answer, dict, "_Req"]:
    """One look-up request -> (its answer, its journal entry, the request). Never raises."""
    started = time.perf_counter()
    view = runtime.control.current()
    if view.personas_version > runtime.personas_version:
        runtime.sync_personas(view.personas_version)
    req = _Req(environ)
    headers = _Headers(environ)
    path, method = req.path, environ["REQUEST_METHOD"]
    api = _api_of(environ.get("PATH_INFO", ""))
    query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    entry = {"time": now_iso(), "method": method, "path": path, "interaction": None, "api": api,
             "trace_id": headers.get("X-Correlation-Id"), "consumer_asid": None, "status": None,
             "spine_code": None, "diagnostics": None, "findings": [], "worker": os.getpid(),
             "query": [[k, v] for k, v in query],
             "headers": {name: headers.get(name) for name in JOURNALED_HEADERS if headers.get(name) is not None}}
    if api == "sds":
        entry["apikey_sent"] = headers.get("apikey") is not None
    else:
        entry["bearer_sent"] = headers.get("Authorization") is not None
    echo: dict = {}
    injected = None
    try:
        if api == "sds":
            echo["X-Correlation-ID"] = _correlation_id(headers, method, path, environ)
            entry["interaction"] = {"Device": "sds_device", "Endpoint": "sds_endpoint"}.get(_sds_resource(path))
            answer = _sds(runtime, view, req, headers, query, entry, echo)
        elif api == "pds":
            for name in ("X-Request-ID", "X-Correlation-ID"):
                if headers.get(name) is not None:
                    echo[name] = headers.get(name)
            answer = _pds(runtime, view, req, headers, query, entry, echo)
        else:
            entry["interaction"] = "pds_token"
            answer = _token(runtime, view, req, headers, entry)
        injected = entry.pop("_injected", None)
    except LookupFailure as failure:
        injected = entry.pop("_injected", None)
        answer = _failure(failure, echo)
        entry["error"] = entry["spine_code"] = failure.journal_code
        entry["diagnostics"] = failure.diagnostics
    except Exception as exc:             # never a stack trace: the API's own 500
        injected = entry.pop("_injected", None)
        log.exception("unexpected error on %s %s", method, path)
        failure = sds_error(500, f"Unexpected {type(exc).__name__} in the mock") if api == "sds" else \
            pds_error("UNKNOWN_ERROR", f"Unexpected {type(exc).__name__} in the mock", status=500)
        answer = _failure(failure, echo)
        entry["error"] = entry["spine_code"] = failure.journal_code
    if injected is not None:
        answer = injected.deliver(answer)
    entry["status"] = None if injected is not None and injected.kind in ("reset", "empty") else answer.status
    entry["ms"] = round((time.perf_counter() - started) * 1000, 3)
    journal.record(runtime, environ, entry)     # finished when the answer is over (FhirFront._over)
    return answer, entry, req


class _Req:
    """What the FHIR front needs of a request for its access-log line (``path``)."""

    def __init__(self, environ):
        self.environ = environ
        self.path = "/" + environ.get("PATH_INFO", "").encode("latin1").decode(errors="replace").lstrip("/")
        self._request = None

    @property
    def request(self) -> Request:
        if self._request is None:
            self._request = Request(self.environ)
        return self._request

    def origin(self, settings) -> str:
        """The scheme and host the consumer called (``public_base_url`` wins, as for attachment URLs)."""
        if settings.public_base_url:
            return settings.public_base_url.rstrip("/")
        return self.request.host_url.rstrip("/")


def _correlation_id(headers, method, path, environ) -> str:
    """The X-Correlation-Id sent, or (absent or not a UUID) one made up as the service does: from the
    request itself, so bodies stay deterministic."""
    sent = headers.get("X-Correlation-Id")
    if sent and UUID_RE.match(sent):
        return sent
    return str(uuid.uuid5(NAMESPACE, f"sds/{method} {path}?{environ.get('QUERY_STRING', '')}"))


def _sds_resource(path: str) -> str | None:
    for base in SDS_BASES:
        if path.startswith(base + "/"):
            rest = path[len(base) + 1:]
            return rest if rest in ("Device", "Endpoint") else None
    return None


def _json(body: dict, status: int, echo: dict, content_type: str = FHIR_JSON, extra=None) -> Answer:
    headers = [("Content-Type", content_type), ("Cache-Control", "no-store"), *echo.items(), *(extra or {}).items()]
    return Answer(status, headers, to_json_bytes(body))


def _failure(failure: LookupFailure, echo: dict) -> Answer:
    extra = dict(failure.headers)
    content_type = "application/json" if failure.api == "oauth" else FHIR_JSON
    return _json(outcome(failure, echo.get("X-Correlation-ID")), failure.status, echo, content_type, extra)


def _faults(runtime, view, entry, api, environ, facts_ods=None, nhs=None):
    """The fault rules this call gets (every kind but a Spine-coded error), after their delay."""
    facts = faults.Facts(entry["interaction"], {}, None, b"", (), ods=facts_ods, path=entry["path"],
                         nhs_number=nhs)
    injected = faults.take(runtime.control, view.rules, facts, environ, api=api)
    if injected is None:
        return None, None
    entry["fault"] = injected.record()
    entry["_injected"] = injected
    injected.wait()
    return injected, injected.rule


def _apply_outcome_fault(injected, rule, api, entry):
    """A fault rule that answers instead of the API: an error with a status (in the API's format),
    malformed, reset, empty."""
    if injected is None or rule is None:
        return None
    if rule["kind"] == "error":
        status = rule["status"]
        text = rule.get("diagnostics") or f"Fault injected by mockprovider (rule {rule['id']})"
        if api == "sds":
            raise sds_error(status, text)
        raise pds_error("UNKNOWN_ERROR", text, status=status)
    if rule["kind"] in ("malformed", "reset", "empty"):
        return injected.answer(entry["path"])
    return None


# --- SDS ---------------------------------------------------------------------------------------------------
def _sds(runtime, view, req, headers, query, entry, echo) -> Answer:
    flags = view.flags
    if flags.get("sds_apikey") == "required" and not headers.get("apikey"):
        raise sds_error(401, "The apikey header is missing: this SDS requires one (flag sds_apikey)")
    if headers.get("apikey") is None:
        entry["findings"].append("apikey missing (lenient)")
    resource = _sds_resource(req.path)
    if resource is None:
        raise sds_error(404, f"HTTP endpoint not found: {req.path} (SDS serves /Device and /Endpoint)")
    if entry["method"] != "GET":
        raise sds_error(405, f"HTTP operation {entry['method']} not supported: use GET", headers={"Allow": "GET"})
    sent = headers.get("X-Correlation-Id")
    if sent and not UUID_RE.match(sent):
        raise sds_error(400, f"Invalid X-Correlation-ID header: {sent!r} must be a UUID")
    ods = sds.organization(query)
    injected, rule = _faults(runtime, view, entry, "sds", req.environ, facts_ods=ods)
    answered = _apply_outcome_fault(injected, rule, "sds", entry)
    if answered is not None:
        return answered
    sds.parse(resource, query)                                  # 400s before the Accept check
    content_type = _sds_accept(headers.get("Accept"))
    origin = req.origin(runtime.settings)
    self_url = f"{origin}{req.path}" + (f"?{unquote(req.environ.get('QUERY_STRING', ''))}"
                                        if req.environ.get("QUERY_STRING") else "")
    quirks = {rule["quirk"]} if rule is not None and rule["kind"] == "quirk" else ()
    bundle, facts = sds.search(resource, query, registry=runtime.practices, consumer_origin=origin,
                               self_url=self_url, resource_base=f"{origin}{req.path}", quirks=quirks)
    entry.update({k: v for k, v in facts.items() if v is not None})
    return _json(bundle, 200, echo, content_type)


def _sds_accept(accept: str | None) -> str:
    words = [w.split(";")[0].strip().lower() for w in (accept or FHIR_JSON).split(",")]
    if "*/*" in words or FHIR_JSON in words:
        return FHIR_JSON
    if "application/json" in words:
        return "application/json"
    raise sds_error(406, f"Accept type not supported: {accept!r}; use {FHIR_JSON} or application/json")


# --- PDS ---------------------------------------------------------------------------------------------------
def _pds(runtime, view, req, headers, query, entry, echo) -> Answer:
    flags = view.flags
    rest = req.path[len(PDS_BASE):] if req.path.startswith(PDS_BASE) else None
    number = None
    if rest == "/Patient":
        entry["interaction"] = "pds_search_patient"
    elif rest is not None and rest.startswith("/Patient/") and "/" not in rest[len("/Patient/"):]:
        entry["interaction"] = "pds_read_patient"
        number = rest[len("/Patient/"):]
        entry["nhs_number"] = number or None
    pds.check_bearer(headers.get("Authorization"), strict=flags.get("pds_auth") == "required")
    request_id = headers.get("X-Request-ID")
    if not request_id:
        raise pds_error("MISSING_VALUE", "Invalid request with error - X-Request-ID header must be supplied")
    if not UUID_RE.match(request_id):
        raise pds_error("INVALID_VALUE", f"Invalid value - '{request_id}' in header 'X-Request-ID'")
    if entry["method"] != "GET":
        raise pds_error("INVALID_METHOD", f"{entry['method']} is not available: this mock reads and searches "
                                          "patients only")
    if entry["interaction"] is None:
        raise pds_error("RESOURCE_NOT_FOUND", f"{req.path} is not served by this mock (it reads and searches "
                                              "Patient only)")
    injected, rule = _faults(runtime, view, entry, "pds", req.environ, nhs=number)
    answered = _apply_outcome_fault(injected, rule, "pds", entry)
    if answered is not None:
        return answered
    registry, settings = runtime.practices, runtime.settings
    if entry["interaction"] == "pds_read_patient":
        resource, facts = pds.read(number, runtime.personas, registry, settings)
        entry.update(facts)
        return _json(resource, 200, echo, extra={"ETag": f'W/"{resource["meta"]["versionId"]}"'})
    body, status, facts = pds.search(query, runtime.personas, registry, settings, req.origin(settings))
    entry.update(facts)
    return _json(body, status, echo)


# --- the token endpoint --------------------------------------------------------------------------------------
def _token(runtime, view, req, headers, entry) -> Answer:
    if entry["method"] != "POST":
        raise oauth("invalid_request", f"{entry['method']} is not allowed: POST the token request", status=405)
    content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise oauth("invalid_request", f"the token request must be {FORM_TYPE}")
    stream = req.request.stream
    raw = stream.read(FORM_LIMIT + 1)
    if len(raw) > FORM_LIMIT:
        raise oauth("invalid_request", f"the token request is over {FORM_LIMIT} bytes")
    form = dict(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))
    # the journal gets the grant's shape, never the client assertion itself
    entry["query"] = [[k, v] for k, v in form.items() if k in ("grant_type", "client_assertion_type")]
    entry["bearer_sent"] = "client_assertion" in form
    injected, rule = _faults(runtime, view, entry, "pds", req.environ)
    answered = _apply_outcome_fault(injected, rule, "pds", entry)
    if answered is not None:
        return answered
    token_url = f"{req.origin(runtime.settings)}{TOKEN_PATH}"
    body, facts = pds.issue_token(form, strict=view.flags.get("pds_auth") == "required", token_url=token_url)
    entry.update({k: v for k, v in facts.items() if v is not None})
    return _json(body, 200, {}, "application/json")
