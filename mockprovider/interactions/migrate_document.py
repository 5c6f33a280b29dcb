"""Migrate a document: GET {documents root}/Binary/{id}, ``...:documents:fhir:rest:migrate:binary-1``.

Rules (../shared/spec/documents.md "Retrieve vs Migrate", errors.md §4.2, enablement.md §3), in order:
  1. enablement is ignored ("availability of data"); flag migrate_document_enablement = honour
     applies the error table's rows instead                      -> 403 ACCESS DENIED
  2. no document with that id                                    -> 404 NO_RECORD_FOUND
  3. the JWT's requesting ODS is not the patient's registered practice (persona
     pds.registered_practice_ods, else setting consumer_ods, else any practice counts)
       seed (default): 403 NOT_AUTHORISED; flag migrate_document_codes = current: 403 NO_RELATIONSHIP
  4. a confidential document needs requested_scope conf/R; conf/N (or no conf scope, which the
     gate reads as conf/N)
       seed (default): 403 NOT_AUTHORISED; current: 400 CONFLICTING_VALUES
  5. larger than flag migrate_document_limit_bytes (0 = unlimited) -> 404 NO_RECORD_FOUND
Success: as Retrieve a document (200, streamed Binary, ETag, exact Content-Length).
"""
from __future__ import annotations

from ..errors import SpineError
from ..personas.documents import index
from ..registry.pds_facts import expected_requesting_ods
from . import Call, Reply
from .retrieve_document import binary_reply, check_enabled




def handle(call: Call) -> Reply:
    flags = call.flags
    current = flags["migrate_document_codes"] == "current"
    if flags["migrate_document_enablement"] == "honour":
        check_enabled(flags)
    binary_id = call.params["document_id"]
    found = index(call.runtime.personas).get(binary_id)
    if found is None or not call.at_practice(found[0]):     # another practice's document is not here
        raise SpineError("NO_RECORD_FOUND", f"No document with id {binary_id}")
    persona, document = found
    expected = expected_requesting_ods(persona, call.runtime.settings)
    requesting = call.claims.requesting_ods
    # Lenient validation lets requesting_organization carry no ODS code: nothing to compare then.
    if expected is not None and requesting is not None and requesting != expected:
        raise SpineError("NO_RELATIONSHIP" if current else "NOT_AUTHORISED",
                         f"The requesting organisation {requesting} is not the patient's registered "
                         f"practice {expected}")
    if document.confidential and call.claims.confidentiality != "R":
        raise SpineError("CONFLICTING_VALUES" if current else "NOT_AUTHORISED",
                         "This document is confidential: requested_scope must include conf/R")
    limit = flags["migrate_document_limit_bytes"]
    if limit and document.size > limit:
        raise SpineError("NO_RECORD_FOUND", f"Document {binary_id} ({document.size} bytes) is over the "
                                            f"Migrate a document size limit of {limit} bytes")
    return binary_reply(persona, document, call.format)
