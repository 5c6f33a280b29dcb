"""Retrieve a document: GET {documents root}/Binary/{id}, ``...:documents:fhir:rest:read:binary-1``.

Rules (../shared/spec/documents.md "Retrieve vs Migrate", errors.md §4.3), checked in this order:
  1. GP Connect or the Access Document capability disabled (flags gpconnect_enabled,
     documents_enabled)                                            -> 403 ACCESS DENIED
  2. no document with that id                                      -> 404 NO_RECORD_FOUND
  3. a confidential document (the Documents API only exposes documents with no confidentiality
     policy, so it behaves as not found: errors.md §4.3's inference) -> 404 NO_RECORD_FOUND
  4. the patient is inactive or deceased                           -> 404 PATIENT_NOT_FOUND
     (the spec's MAY-allow period after death is 0 days here: bodies never depend on the clock)
  5. larger than flag retrieve_document_limit_bytes                -> 404 NO_RECORD_FOUND
Success: 200, a STU3 Binary streamed in base64 chunks, ETag W/"<versionId>", exact Content-Length.
"""
from __future__ import annotations

from ..errors import SpineError
from ..fhir.documents import binary_stream
from ..personas.documents import index
from . import Call, Reply


def check_enabled(flags) -> None:
    if not flags["gpconnect_enabled"]:
        raise SpineError("ACCESS DENIED", "GP Connect is not enabled at this practice.")
    if not flags["documents_enabled"]:
        raise SpineError("ACCESS DENIED", "The Access Document capability is disabled at this practice.")


def binary_reply(persona, document, fmt: str = "json") -> Reply:
    length, body = binary_stream(document, fmt)
    return Reply(body, content_length=length, headers={"ETag": f'W/"{document.version_id}"'},
                 facts={"nhs_number": persona.nhs_number, "document_id": document.binary_id,
                        "document_size": document.size})


def handle(call: Call) -> Reply:
    check_enabled(call.flags)
    binary_id = call.params["document_id"]
    found = index(call.runtime.personas).get(binary_id)
    if found is None or not call.at_practice(found[0]):     # another practice's document is not here
        raise SpineError("NO_RECORD_FOUND", f"No document with id {binary_id}")
    persona, document = found
    if document.confidential:
        raise SpineError("NO_RECORD_FOUND", f"No document with id {binary_id}")
    if persona.head.get("active") is False or persona.head.get("deceased"):
        raise SpineError("PATIENT_NOT_FOUND", "The patient is not an active, living patient of this practice")
    limit = call.flags["retrieve_document_limit_bytes"]
    if document.size > limit:
        raise SpineError("NO_RECORD_FOUND", f"Document {binary_id} ({document.size} bytes) is over the "
                                            f"Retrieve a document size limit of {limit} bytes")
    return binary_reply(persona, document, call.format)
