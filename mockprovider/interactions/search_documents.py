"""Search for a patient's documents: GET {documents root}/Patient/{id}/DocumentReference.

Interaction ``urn:nhs:names:services:gpconnect:documents:fhir:rest:search:documentreference-1``.
Rules (../shared/spec/assurance-suite.md §4 D1-D13, documents.md), checked in this order:
  1. GP Connect or the Access Document capability disabled          -> 403 ACCESS DENIED
  2. an unknown parameter or _include value, a missing mandatory include
     (the four _include values and _revinclude:recurse=PractitionerRole:practitioner), a
     ``created`` that is not ge/le + a date, an ``author`` whose system is not the ODS
     organisation code system                                       -> 422 INVALID_PARAMETER
  3. no findable patient with that logical id (unknown, sensitive, deceased or inactive)
                                                                     -> 404 PATIENT_NOT_FOUND
  4. 200 searchset (Bundle.id = Ssp-TraceID): the DocumentReferences (confidential documents are
     never listed; a document over the retrieve limit is a placeholder without url, its
     attachment.title saying why), then the included Patient, Organizations (custodian and
     authors), Practitioners (authors) and their PractitionerRoles. No match: no entries.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from .. import spec
from ..errors import SpineError
from ..fhir import admin
from ..fhir.documents import OVER_RETRIEVE_LIMIT, document_reference, organization
from ..fhir.render import SplicedBody
from ..fhir.searchset import searchset, spliced
from ..personas.documents import findable, index
from . import Call, Reply
from .retrieve_document import check_enabled

INCLUDES = ("DocumentReference:subject:Patient", "DocumentReference:custodian:Organization",
            "DocumentReference:author:Organization", "DocumentReference:author:Practitioner")
REVINCLUDE = ("_revinclude:recurse", "PractitionerRole:practitioner")
KNOWN = ("_include", REVINCLUDE[0], "created", "author")


def invalid(diagnostics: str) -> SpineError:
    return SpineError("INVALID_PARAMETER", diagnostics)


def _instant(text: str, end_of_day: bool) -> datetime:
    """A date or dateTime as an aware datetime; a bare date means its first (ge) or last (le) instant."""
    if len(text) == 10:
        day = date.fromisoformat(text)
        start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        return start + timedelta(days=1) - timedelta(microseconds=1) if end_of_day else start
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("a dateTime needs a time zone")
    return value


def parse_query(query: list, ods_code: str) -> tuple:
    """-> (created bounds [(op, instant)], author ODS or None); raises 422 INVALID_PARAMETER."""
    unknown = sorted({name for name, _ in query if name not in KNOWN})
    if unknown:
        raise invalid(f"Unknown parameter(s): {', '.join(unknown)}")
    includes = [value for name, value in query if name == "_include"]
    for value in includes:
        if value not in INCLUDES:
            raise invalid(f"_include={value} is not supported; use {', '.join(INCLUDES)}")
    missing = [f"_include={i}" for i in INCLUDES if i not in includes]
    revincludes = [value for name, value in query if name == REVINCLUDE[0]]
    for value in revincludes:
        if value != REVINCLUDE[1]:
            raise invalid(f"{REVINCLUDE[0]}={value} is not supported; use {REVINCLUDE[1]}")
    if not revincludes:
        missing.append("=".join(REVINCLUDE))
    if missing:
        raise invalid("Missing mandatory parameter(s): " + ", ".join(missing))
    created = []
    for name, value in query:
        if name != "created":
            continue
        op, text = value[:2], value[2:]
        if op not in ("ge", "le"):
            raise invalid(f"created={value}: use ge or le followed by a date, e.g. created=ge2020-01-01")
        try:
            created.append((op, _instant(text, end_of_day=(op == "le"))))
        except ValueError:
            raise invalid(f"created={value}: {text!r} is not a date or dateTime with a time zone") from None
    authors = [value for name, value in query if name == "author"]
    if len(authors) > 1:
        raise invalid("author may be given once")
    author = None
    if authors:
        system, bar, author = authors[0].partition("|")
        if system != spec.ODS_ORG_SYSTEM or not bar:
            raise invalid(f"author={authors[0]}: the identifier system must be {spec.ODS_ORG_SYSTEM}")
        if not author:
            raise invalid(f"author={authors[0]}: the ODS code is missing")
    return tuple(created), author


def _matches(document, created, author, ods_code) -> bool:
    if document.confidential:       # never listed (documents.md)
        return False
    if created:
        when = _instant(document.entry["created"], end_of_day=False)
        for op, bound in created:
            if (op == "ge" and when < bound) or (op == "le" and when > bound):
                return False
    if author is not None:
        by = document.entry["author"]
        # A practitioner author (the usual GP) writes for the provider practice (their PractitionerRole).
        written_for = by.get("organization", ods_code)
        if written_for != author:
            return False
    return True


def build(persona, documents, *, call: Call) -> dict:
    ods = call.ods
    limit = call.flags["retrieve_document_limit_bytes"]
    references = []
    organizations: dict[str, dict] = {}
    practitioners = False
    for document in documents:
        unavailable = OVER_RETRIEVE_LIMIT.format(limit=limit) if document.size > limit else None
        references.append(document_reference(document, documents_base=call.documents_base, custodian_ods=ods,
                                             unavailable=unavailable))
        organizations.setdefault(ods, organization(ods, ods))                       # custodian
        author = document.entry["author"]
        if "organization" in author:
            organizations.setdefault(author["organization"], organization(author["organization"], ods))
        else:
            practitioners = True
    includes = []
    if references:
        includes.append(admin.patient(persona, ods, call.flags["nhs_number_status_system"],
                                      call.flags.get("patient_general_practitioner", "seed")))
        includes.extend(organizations.values())
        gp = persona.head.get("usual_gp")
        if practitioners and gp:
            includes += [admin.practitioner(gp), admin.practitioner_role(gp, ods)]
    return searchset(call.documents_base, references, includes)


def handle(call: Call) -> Reply:
    check_enabled(call.flags)
    created, author = parse_query(call.query, call.ods)
    patient_id = call.params["patient_id"]
    documents_index = index(call.runtime.personas)
    persona = documents_index.by_patient_id.get(patient_id)
    if not call.at_practice(persona) or not findable(persona):
        raise SpineError("PATIENT_NOT_FOUND", f"No patient with logical id {patient_id}")
    key = ("search_documents", patient_id, call.documents_base, created, author,
           call.flags["retrieve_document_limit_bytes"], call.flags["nhs_number_status_system"],
           call.flags.get("patient_general_practitioner", "seed"))
    cache = call.runtime.caches.setdefault("documents_searchsets", {})
    body = cache.get(key)
    if body is None:
        documents = [d for d in documents_index.of(persona) if _matches(d, created, author, call.ods)]
        body = spliced(build(persona, documents, call=call))
        if len(cache) > 1024:
            cache.clear()
        cache[key] = body
    return Reply(SplicedBody(body.as_format(call.format), call.trace_id), facts={"nhs_number": persona.nhs_number})
