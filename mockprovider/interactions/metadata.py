"""GET {root}/metadata: a CapabilityStatement listing exactly what this mock serves under that root.

Enablement (shared/spec/enablement.md §1): the Access Record Structured capability statement is one
of the interactions the practice's switches govern, so with ``gpconnect_enabled`` or
``structured_enabled`` off it answers 403 ACCESS DENIED, as Retrieve a structured record does
(:mod:`.retrieve_structured` calls :func:`check_structured_enabled`); migrate structured ignores
enablement (§3).
"""
from __future__ import annotations

from functools import lru_cache

from .. import __version__
from ..errors import SpineError
from ..fhir.render import in_format, to_json_bytes
from . import Call, Reply

OPERATION_MIGRATE = {
    "name": "gpc.migratestructuredrecord",
    "definition": {"reference": "https://fhir.nhs.uk/STU3/OperationDefinition/"
                                "GPConnect-MigrateStructuredRecord-Operation-1"},
}

OPERATION_RETRIEVE = {
    "name": "gpc.getstructuredrecord",
    "definition": {"reference": "https://fhir.nhs.uk/STU3/OperationDefinition/"
                                "GPConnect-GetStructuredRecord-Operation-1"},
}

# interaction name -> (root kind, resource type, what it adds to that resource's entry).
# Interaction modules add their row here when they are implemented; only interactions that
# have a handler are ever listed.
CAPABILITIES = {
    "migrate_structured": ("structured", "Patient", {"operation": [OPERATION_MIGRATE]}),
    "retrieve_structured": ("structured", "Patient", {"operation": [OPERATION_RETRIEVE]}),
    "migrate_document": ("documents", "Binary", {"interaction": [{"code": "read"}]}),
    "retrieve_document": ("documents", "Binary", {"interaction": [{"code": "read"}]}),
    # Patient read + search: what the assurance suite's FHIR.feature expects the documents
    # CapabilityStatement to declare; both are served (read_patient, find_patient).
    "read_patient": ("documents", "Patient", {"interaction": [{"code": "read"}]}),
    "find_patient": ("documents", "Patient", {
        "interaction": [{"code": "search-type"}],
        "searchParam": [{"name": "identifier", "type": "token",
                         "documentation": "NHS number: https://fhir.nhs.uk/Id/nhs-number|{nhs}"}]}),
    "search_documents": ("documents", "DocumentReference", {
        "interaction": [{"code": "search-type"}],
        "searchInclude": ["DocumentReference:subject:Patient", "DocumentReference:custodian:Organization",
                          "DocumentReference:author:Organization", "DocumentReference:author:Practitioner"],
        "searchRevInclude": ["PractitionerRole:practitioner"],
        "searchParam": [
            {"name": "created", "type": "date", "documentation": "ge and/or le a date"},
            {"name": "author", "type": "token",
             "documentation": "https://fhir.nhs.uk/Id/ods-organization-code|{ODS code}"}]}),
}


def capability_statement(kind: str, handled) -> dict:
    entries: dict[str, dict] = {}
    operations: list = []
    for name, (root, resource_type, adds) in CAPABILITIES.items():
        if name not in handled or (kind != "all" and root != kind):
            continue
        entry = entries.setdefault(resource_type, {"type": resource_type})
        for key, values in adds.items():
            # STU3 lists operations on rest, not on rest.resource (CapabilityStatement.rest.operation)
            merged = operations if key == "operation" else entry.setdefault(key, [])
            merged.extend(v for v in values if v not in merged)
    rest = {"mode": "server", "resource": list(entries.values())}
    if operations:
        rest["operation"] = operations
    return {
        "resourceType": "CapabilityStatement",
        "version": "1.6.2",
        "name": f"GP Connect mock provider ({kind})",
        "status": "active",
        "date": "2026-11-22",
        "publisher": "mockprovider",
        "description": "A mock GP Connect provider for consumer development and CI.",
        "kind": "instance",
        "software": {"name": "mockprovider", "version": __version__},
        "fhirVersion": "3.0.1",
        "acceptUnknown": "both",
        "format": ["application/fhir+json", "application/fhir+xml"],
        "rest": [rest],
    }


@lru_cache(maxsize=32)
def _statement_bytes(kind: str, handled: frozenset) -> bytes:
    """Deterministic for a root kind and the set of handled interactions: built once."""
    return to_json_bytes(capability_statement(kind, handled))


def check_structured_enabled(flags) -> None:
    if not flags.get("gpconnect_enabled", True):
        raise SpineError("ACCESS DENIED", "GP Connect is not enabled at this practice.")
    if not flags.get("structured_enabled", True):
        raise SpineError("ACCESS DENIED", "The Access Record Structured capability is disabled at this practice.")


def handle(call: Call) -> Reply:
    if call.interaction == "metadata_structured":
        check_structured_enabled(call.flags)
    return Reply(in_format(_statement_bytes(call.root_kind, frozenset(call.runtime.handled)), call.format))
