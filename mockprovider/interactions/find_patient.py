"""Find a patient (Access Document): GET {documents root}/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs}.

Interaction ``urn:nhs:names:services:gpconnect:documents:fhir:rest:search:patient-1``.
Rules (../shared/spec/assurance-suite.md §4 P1-P19, documents.md), checked in this order:
  1. GP Connect or the Access Document capability disabled        -> 403 ACCESS DENIED
  2. no ``identifier``, more than one, or any other parameter name
     (parameter names are case-sensitive: ``Identifier`` is unknown) -> 400 BAD_REQUEST
  3. identifier without ``system|`` , with an empty system or an empty value
                                                                   -> 422 INVALID_PARAMETER
  4. a system other than the NHS number system                     -> 400 INVALID_IDENTIFIER_SYSTEM
  5. an NHS number failing the format or Mod-11 check              -> 400 INVALID_NHS_NUMBER
  6. 200 searchset (Bundle.id = Ssp-TraceID): one Patient entry, or none for an unknown, sensitive,
     deceased or inactive patient. A dissented patient is found (P19).
"""
from __future__ import annotations

from .. import spec
from ..errors import SpineError
from ..fhir import admin
from ..fhir.render import SplicedBody
from ..fhir.searchset import searchset, spliced
from ..personas import nhs_number
from ..personas.documents import findable
from . import Call, Reply
from .retrieve_document import check_enabled

PARAMETER = "identifier"


def parse_identifier(query: list) -> str:
    names = [name for name, _ in query]
    unknown = sorted({name for name in names if name != PARAMETER})
    if unknown:
        raise SpineError("BAD_REQUEST", f"Unknown parameter(s): {', '.join(unknown)}; "
                                        f"find a patient takes only {PARAMETER} (names are case-sensitive)")
    values = [value for name, value in query if name == PARAMETER]
    if not values:
        raise SpineError("BAD_REQUEST", f"The {PARAMETER} parameter is missing")
    if len(values) > 1:
        raise SpineError("BAD_REQUEST", f"The {PARAMETER} parameter must be given once, not {len(values)} times")
    system, bar, value = values[0].partition("|")
    if not bar or not system.strip():
        raise SpineError("INVALID_PARAMETER", f"{PARAMETER} must be {spec.NHS_NUMBER_SYSTEM}|<NHS number>: "
                                              "the system is missing")
    if not value.strip():
        raise SpineError("INVALID_PARAMETER", f"{PARAMETER} must be {spec.NHS_NUMBER_SYSTEM}|<NHS number>: "
                                              "the value is missing")
    if system != spec.NHS_NUMBER_SYSTEM:
        raise SpineError("INVALID_IDENTIFIER_SYSTEM", f"{PARAMETER} system {system!r} is not {spec.NHS_NUMBER_SYSTEM}")
    if not nhs_number.is_valid(value):
        raise SpineError("INVALID_NHS_NUMBER", f"{value!r} is not a valid NHS number")
    return value


def handle(call: Call) -> Reply:
    check_enabled(call.flags)
    number = parse_identifier(call.query)
    persona = call.runtime.personas.get(number)
    found = call.at_practice(persona) and findable(persona)
    status_system = call.flags["nhs_number_status_system"]
    gp_mode = call.flags.get("patient_general_practitioner", "seed")
    key = ("find_patient", number if found else None, call.documents_base, status_system, gp_mode)
    cache = call.runtime.caches.setdefault("documents_searchsets", {})
    body = cache.get(key)
    if body is None:
        matches = [admin.patient(persona, call.ods, status_system, gp_mode)] if found else []
        body = spliced(searchset(call.documents_base, matches))
        if len(cache) > 1024:
            cache.clear()
        cache[key] = body
    return Reply(SplicedBody(body.as_format(call.format), call.trace_id), facts={"nhs_number": number, "entries": 1 if found else 0})
