"""POST {structured root}/Patient/$gpc.migratestructuredrecord (migrate-structured.md, errors.md §4.1).

The gate has already checked headers and the JWT (reason_for_request must be ``migration``;
``requesting_practitioner`` is optional here). This module then:

1. validates the ``Parameters`` body against the Migrate OperationDefinition;
2. applies the business rules, in this order: unknown patient; sensitive, deceased or unverified
   NHS number (all 404 PATIENT_NOT_FOUND); dissent (403 NO_PATIENT_CONSENT unless the flag
   ``dissent_blocks_migrate`` is false); requesting ODS ≠ registered practice on PDS
   (403 NO_RELATIONSHIP); confidentiality scope vs includeSensitiveInformation (400 CONFLICTING_VALUES);
3. serves the Bundle from a cache: built once per (persona, sensitivity, documents base, the flags
   nhs_number_status_system and migrate_document_limit_bytes)
   as a :class:`~mockprovider.fhir.render.Spliced`, with the request's Ssp-TraceID spliced in as
   ``Bundle.id``.

Migrate ignores the enablement flags and clinical-area switches (enablement.md).
"""
from __future__ import annotations

import json
import threading
from functools import lru_cache

from .. import spec
from ..errors import SpineError
from ..fhir.render import Spliced, SplicedBody, to_json_bytes
from ..fhir.structured import structured_bundle
from ..fhir.xml import XmlError, from_xml_bytes
from ..personas import nhs_number
from ..personas.documents import index as documents_index
from ..process import offload
from ..process.memory import give_back_memory
from ..registry.pds_facts import expected_requesting_ods
from . import Call, Reply

PATIENT_NHS_NUMBER = "patientNHSNumber"
INCLUDE_FULL_RECORD = "includeFullRecord"
INCLUDE_SENSITIVE = "includeSensitiveInformation"
PARAMETERS_ELEMENTS = {"resourceType", "id", "meta", "implicitRules", "language", "parameter"}
PARAMETER_ELEMENTS = {"id", "extension", "modifierExtension", "name", "resource", "part"}
CACHE_NAME = "migrate_structured"
CACHE_MAX = 512      # cached Bundles per process (a persona has at most a few variants)
LARGE_BODY_BYTES = 1024 * 1024


def invalid_resource(diagnostics):
    return SpineError("INVALID_RESOURCE", diagnostics)


def invalid_parameter(diagnostics):
    return SpineError("INVALID_PARAMETER", diagnostics)


def _value_keys(param: dict) -> list:
    return [k for k in param if k.startswith("value")]


def _check_parameter_shape(param, where):
    if not isinstance(param, dict):
        raise invalid_resource(f"{where} is not a JSON object")
    name = param.get("name")
    if not isinstance(name, str) or not name:
        raise invalid_resource(f"{where} has no name")
    unknown = sorted(k for k in param if k not in PARAMETER_ELEMENTS and not k.startswith("value")
                     and k.lstrip("_") not in PARAMETER_ELEMENTS)
    if unknown:
        raise invalid_resource(f"Parameter {name} has unknown element(s): {', '.join(unknown)}")
    if len(_value_keys(param)) > 1:
        raise invalid_resource(f"Parameter {name} has more than one value[x]")
    if "part" in param and not isinstance(param["part"], list):
        raise invalid_resource(f"Parameter {name}: part must be an array")
    return name


def _first_part_name(param: dict):
    """The name of a parameter's first part, for diagnostics (the part may not even be an object)."""
    first = param["part"][0]
    return first.get("name") if isinstance(first, dict) else repr(first)


def load_parameters(body: bytes, body_format: str = "json"):
    """A request body (FHIR JSON, or FHIR XML when ``body_format`` is xml) -> the JSON form of the
    resource it holds; raises INVALID_RESOURCE when it cannot be parsed (shared by every operation
    that takes a ``Parameters`` body)."""
    if body_format == "xml":
        try:
            return from_xml_bytes(body)
        except XmlError as exc:
            raise invalid_resource(f"The request body cannot be parsed as a FHIR XML Parameters resource: {exc}") from None
        except RecursionError:
            raise invalid_resource("The request body is XML nested too deeply to be a Parameters resource") from None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise invalid_resource("The request body cannot be parsed as a FHIR JSON Parameters resource") from None
    except RecursionError:   # JSON nested deeper than the parser's stack (~1,000 levels): a body, not a bug
        raise invalid_resource("The request body is JSON nested too deeply to be a Parameters resource") from None


def parameter_list(resource) -> list:
    """A parsed body that must be a ``Parameters`` resource -> its ``parameter`` array (each entry's
    shape checked: a name, at most one value[x], parts as an array); raises INVALID_RESOURCE."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Parameters":
        found = resource.get("resourceType") if isinstance(resource, dict) else type(resource).__name__
        raise invalid_resource(f"The request body must be a Parameters resource, not {found!r}")
    unknown = sorted(k for k in resource if k.lstrip("_") not in PARAMETERS_ELEMENTS)
    if unknown:
        raise invalid_resource(f"Parameters has unknown element(s): {', '.join(unknown)}")
    params = resource.get("parameter", [])
    if not isinstance(params, list):
        raise invalid_resource("Parameters.parameter must be an array")
    return params


check_parameter_shape = _check_parameter_shape
value_keys = _value_keys


def nhs_number_of(nhs_param: dict) -> str:
    """The NHS number of a ``patientNHSNumber`` parameter (its valueIdentifier); raises
    INVALID_PARAMETER (no value), INVALID_RESOURCE (not an Identifier), INVALID_IDENTIFIER_SYSTEM
    (400) or INVALID_NHS_NUMBER (400: format or Modulus 11 check digit)."""
    identifier = nhs_param.get("valueIdentifier")
    if identifier is None:
        raise invalid_parameter("Parameter patientNHSNumber has no valueIdentifier")
    if not isinstance(identifier, dict):
        raise invalid_resource("patientNHSNumber.valueIdentifier is not an Identifier")
    system, value = identifier.get("system"), identifier.get("value")
    if value is None or value == "":
        raise invalid_parameter("Parameter patientNHSNumber has no identifier value")
    if system != spec.NHS_NUMBER_SYSTEM:
        raise SpineError("INVALID_IDENTIFIER_SYSTEM",
                         f"patientNHSNumber identifier system must be {spec.NHS_NUMBER_SYSTEM}, not {system!r}")
    if not nhs_number.is_valid(value):
        raise SpineError("INVALID_NHS_NUMBER", f"patientNHSNumber {value!r} is not a valid NHS number "
                                               "(10 digits with a Modulus 11 check digit)")
    return value


def parse_parameters(body: bytes, body_format: str = "json") -> tuple[str, bool]:
    """The Parameters body (FHIR JSON, or FHIR XML when ``body_format`` is xml) -> (NHS number,
    includeSensitiveInformation); raises SpineError.

    Spec choices (migrate-structured.md "Contradictions"): includeFullRecord is 1..1 and its
    includeSensitiveInformation part is mandatory, so a missing one is 422 INVALID_PARAMETER
    (the strict reading); a wrong NHS number identifier system is 400 INVALID_IDENTIFIER_SYSTEM.
    """
    return parse_parameters_resource(load_parameters(body, body_format))


def parse_parameters_resource(resource) -> tuple[str, bool]:
    """A parsed Parameters resource (the JSON form) -> (NHS number, includeSensitiveInformation)."""
    params = parameter_list(resource)
    names = [_check_parameter_shape(p, f"parameter[{i}]") for i, p in enumerate(params)]
    known = (PATIENT_NHS_NUMBER, INCLUDE_FULL_RECORD)
    if not any(n in known for n in names):
        raise invalid_parameter("No recognised parameter: expected patientNHSNumber and includeFullRecord")
    for name in names:
        if name not in known:
            raise invalid_parameter(f"Unrecognised parameter: {name}")
    for name in known:
        if names.count(name) > 1:
            raise invalid_parameter(f"Parameter {name} may appear only once")
    by_name = dict(zip(names, params))

    nhs_param = by_name.get(PATIENT_NHS_NUMBER)
    if nhs_param is None:
        raise invalid_parameter("Parameter patientNHSNumber is missing")
    if nhs_param.get("part"):
        raise invalid_parameter(f"Unrecognised part of patientNHSNumber: {_first_part_name(nhs_param)}")
    value = nhs_number_of(nhs_param)

    full = by_name.get(INCLUDE_FULL_RECORD)
    if full is None:
        raise invalid_parameter("Parameter includeFullRecord is missing")
    if _value_keys(full):
        raise invalid_parameter(f"Parameter includeFullRecord takes parts only, not {_value_keys(full)[0]}")
    parts = full.get("part", [])
    part_names = [_check_parameter_shape(p, f"includeFullRecord.part[{i}]") for i, p in enumerate(parts)]
    for name in part_names:
        if name != INCLUDE_SENSITIVE:
            raise invalid_parameter(f"Unrecognised part of includeFullRecord: {name}")
    if not part_names:
        raise invalid_parameter("Part includeSensitiveInformation of includeFullRecord is missing")
    if len(part_names) > 1:
        raise invalid_parameter("Part includeSensitiveInformation may appear only once")
    part = parts[0]
    if part.get("part"):
        raise invalid_parameter(f"Unrecognised part of includeSensitiveInformation: {_first_part_name(part)}")
    if "valueBoolean" not in part:
        if _value_keys(part):
            raise invalid_parameter(f"Part includeSensitiveInformation must be a valueBoolean, not {_value_keys(part)[0]}")
        raise invalid_parameter("Part includeSensitiveInformation has no value")
    if not isinstance(part["valueBoolean"], bool):
        raise invalid_resource("includeSensitiveInformation.valueBoolean must be true or false")
    return value, part["valueBoolean"]


def check_business_rules(call: Call, persona, sensitive: bool) -> None:
    if persona is None:
        raise SpineError("PATIENT_NOT_FOUND", "No patient with that NHS number is registered at this practice")
    data = persona.head
    if persona.pds.get("sensitive"):
        raise SpineError("PATIENT_NOT_FOUND", "Patient not found")   # never say why: sensitive on PDS
    if data.get("deceased"):
        raise SpineError("PATIENT_NOT_FOUND", "Patient is deceased")
    status = data.get("nhs_number_status", spec.NHS_NUMBER_VERIFIED)
    if status != spec.NHS_NUMBER_VERIFIED:
        raise SpineError("PATIENT_NOT_FOUND",
                         f"NHS number status is {status} ({spec.NHS_NUMBER_STATUSES[status]}), not 01 "
                         "(Number present and verified)")
    if persona.pds.get("dissent") and call.flags.get("dissent_blocks_migrate", True):
        raise SpineError("NO_PATIENT_CONSENT", "Patient has dissented from sharing their record")
    registered = expected_requesting_ods(persona, call.runtime.settings)
    requesting = call.claims.requesting_ods
    if registered is not None and requesting != registered:
        raise SpineError("NO_RELATIONSHIP", f"Requesting organisation {requesting!r} is not the patient's "
                                            f"registered practice on PDS")
    conf = call.claims.confidentiality
    if sensitive and conf != "R":
        raise SpineError("CONFLICTING_VALUES", "includeSensitiveInformation is true but requested_scope "
                                               "does not include conf/R")
    if not sensitive and conf == "R":
        # Not in the seed table; the assurance suite expects 400 (design.md decisions table).
        raise SpineError("CONFLICTING_VALUES", "requested_scope has conf/R but includeSensitiveInformation is false")


_lock = threading.Lock()


def cached_body(call: Call, persona, sensitive: bool) -> Spliced:
    """The Bundle for this persona and request shape, built at most once per process. Of ``call``
    only ``runtime``, ``flags`` and ``documents_base`` are read (the control API's persona record
    endpoint passes just those, so the console shows the very bytes a migrate request gets)."""
    runtime = call.runtime
    status_system = call.flags.get("nhs_number_status_system", "example")
    limit = call.flags.get("migrate_document_limit_bytes", 0)
    gp_mode = call.flags.get("patient_general_practitioner", "seed")
    # Everything the body depends on besides the persona: sensitivity, the documents root (from the
    # request's host or the public base URL) and the two flags that change bytes.
    key = (id(persona), persona.nhs_number, sensitive, call.documents_base, status_system, limit, gp_mode)
    cache = runtime.caches.setdefault(CACHE_NAME, {})
    hit = cache.get(key)
    if hit is not None and hit[0] is persona:
        return hit[1]
    # The practice the record migrates from: the persona's home practice (the default one unless it
    # names another; the request reached it there, mockprovider.interactions.Call.at_practice).
    ods = persona.practice or runtime.settings.ods_code
    # A large persona's Bundle is built in a forked child (mockprovider.process.offload): the worker
    # gets its bytes without ever holding the parsed record and the built resources (~20x its size).
    body = offload.in_child(persona.size, _bundle_bytes, persona, ods, sensitive,
                            call.documents_base, status_system, documents_index(runtime.personas).of(persona),
                            limit, gp_mode)
    large = len(body) > LARGE_BODY_BYTES
    spliced = Spliced(body)
    del body
    with _lock:
        if len(cache) >= CACHE_MAX:   # the Host header is part of the key: keep a bad client bounded
            cache.clear()
        cache[key] = (persona, spliced)
    if large:
        # Building a large Bundle parsed and built ~10x its size in objects, all freed now: hand
        # that back to the system rather than keep it as the worker's new floor (issue #28).
        give_back_memory()
    return spliced


def _bundle_bytes(persona, ods_code, sensitive, documents_base, status_system, documents, limit, gp_mode) -> bytes:
    return to_json_bytes(structured_bundle(persona, ods_code, sensitive, documents_base, status_system,
                                           documents=documents, migrate_limit_bytes=limit,
                                           general_practitioner=gp_mode))


# A consumer sends the same few Parameters bodies again and again (one per patient and
# sensitivity): a small body's answer is remembered (errors are not: they raise every time).
PARSED_BODY_MAX = 4096


@lru_cache(maxsize=1024)
def _parse_small(body: bytes, body_format: str = "json") -> tuple[str, bool]:
    return parse_parameters(body, body_format)


def handle(call: Call) -> Reply:
    body = call.body
    small = isinstance(body, bytes) and len(body) <= PARSED_BODY_MAX
    fmt = call.body_format
    number, sensitive = _parse_small(body, fmt) if small else parse_parameters(body, fmt)
    persona = call.runtime.personas.get(number)
    if persona is not None and not call.at_practice(persona):
        persona = None              # a patient of another registered practice: not registered here
    check_business_rules(call, persona, sensitive)
    # Pieces, not one joined bytes object: a large Bundle is not copied on every request.
    body = SplicedBody(cached_body(call, persona, sensitive).as_format(call.format), call.trace_id)
    return Reply(body, facts={"nhs_number": number, "sensitive": sensitive})
