"""Documents as FHIR STU3: CareConnect-GPC-DocumentReference-1 and the streamed Binary.

Public surface (kept stable; the migrate structured Bundle and the documents search call it):

    document_reference(document, *, documents_base, custodian_ods, unavailable=None) -> dict
    document_reference_id(document) -> str
    binary_stream(document) -> (content_length, iterator of bytes)
    organization(ods, practice_ods) -> Organization of a document author / custodian

``document`` is a :class:`mockprovider.domain.documents.Document`; get one with
``mockprovider.domain.documents.index(runtime.personas).of(persona)`` (every document of a
persona, in persona order) or ``.get(binary_id)``.

Facts: ../shared/spec/documents.md ("DocumentReference" and "Binary resource").
"""
from __future__ import annotations

import json

from .. import spec
from ..domain import ids
from ..domain.documents import Document, base64_length
from . import admin

# Supplier-namespaced identifier system of the persistent DocumentReference identifier.
IDENTIFIER_SYSTEM = "https://mockprovider.invalid/Id/document-reference"
PRACTICE_SETTING = {"coding": [{"system": spec.SNOMED, "code": "1060971000000108",
                                "display": "General practice service"}]}

# attachment.title of a placeholder (no url): why the file is not available in this context.
OVER_RETRIEVE_LIMIT = ("This document is not available through Retrieve a document: it is larger than "
                       "the {limit} bytes that interaction allows.")
OVER_MIGRATE_LIMIT = ("This document is not available through Migrate a document: it is larger than "
                      "the {limit} bytes that interaction allows.")


# Names of the organisations the built-in personas' documents come from (ODS code -> name).
ORGANISATION_NAMES = {"RR8": "Leeds Teaching Hospitals NHS Trust"}


def organization(ods: str, practice_ods: str) -> dict:
    """The Organization of an ODS code: the provider practice (fhir.admin), or another organisation
    (a document author) with its ODS identifier and a name."""
    if ods == practice_ods:
        return admin.practice_organization(ods)
    return {
        "resourceType": "Organization",
        "id": ids.organization_id(ods),
        "meta": {"versionId": admin.VERSION_ID, "profile": [spec.PROFILE_ORGANIZATION]},
        "identifier": [{"system": spec.ODS_ORG_SYSTEM, "value": ods}],
        "name": ORGANISATION_NAMES.get(ods, f"Organisation {ods}"),
    }


def document_reference_id(document: Document) -> str:
    return ids.resource_id(document.nhs_number, "DocumentReference", document.key)


def binary_url(documents_base: str, document: Document) -> str:
    """The absolute URL a consumer follows verbatim: documents root + /Binary/{id}."""
    return f"{documents_base.rstrip('/')}/Binary/{document.binary_id}"


def document_reference(document: Document, *, documents_base: str, custodian_ods: str,
                       unavailable: str | None = None) -> dict:
    """One CareConnect-GPC-DocumentReference-1.

    documents_base  absolute URL of the documents service root (``Call.documents_base``); the
                    attachment url is documents_base + "/Binary/" + the document's Binary id.
    custodian_ods   ODS code of the organisation holding the record (the provider practice,
                    ``settings.ods_code``): ``custodian`` -> Organization/ids.organization_id(ods).
    unavailable     None: the file is available, ``attachment.url`` is set. Otherwise a
                    placeholder: no url, and this text (e.g. OVER_RETRIEVE_LIMIT.format(limit=...))
                    as ``attachment.title``. size and contentType are always present (mandatory).

    References: subject Patient/ids.patient_id(nhs); author Organization/ids.organization_id(ods)
    or Practitioner/ids.practitioner_id(key); a consultation link -> context.encounter
    Encounter/ids.resource_id(nhs, "Encounter", key); a problem link -> context.related
    Condition/ids.resource_id(nhs, "Condition", key).
    Never populated (documents.md): docStatus, class, authenticator, relatesTo, attachment.data.
    """
    entry = document.entry
    nhs = document.nhs_number
    code, _, display = entry["type"].partition("|")
    ref_id = document_reference_id(document)
    meta: dict = {"profile": [spec.PROFILE_DOCUMENT_REFERENCE]}
    if document.nopat:
        meta["security"] = [dict(spec.NOPAT_SECURITY)]
    author = entry["author"]
    if "organization" in author:
        author_ref = f"Organization/{ids.organization_id(author['organization'])}"
    else:
        author_ref = f"Practitioner/{ids.practitioner_id(author['practitioner'])}"
    attachment: dict = {"contentType": document.content_type}
    if unavailable is None:
        attachment["url"] = binary_url(documents_base, document)
    else:
        attachment["title"] = unavailable
    attachment["size"] = document.size
    resource: dict = {
        "resourceType": "DocumentReference",
        "id": ref_id,
        "meta": meta,
        "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{document.binary_id}"},
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": ref_id}],
        "status": "current",
        "type": {"coding": [{"system": spec.SNOMED, "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{ids.patient_id(nhs)}"},
        "created": entry["created"],
        "indexed": entry["indexed"],
        "author": [{"reference": author_ref}],
        "custodian": {"reference": f"Organization/{ids.organization_id(custodian_ods)}"},
        "description": entry["description"],
    }
    if document.nopat:
        resource["securityLabel"] = [{"coding": [dict(spec.NOPAT_SECURITY)]}]
    resource["content"] = [{"attachment": attachment}]
    context: dict = {}
    if "consultation" in entry:
        context["encounter"] = {"reference": f"Encounter/{ids.resource_id(nhs, 'Encounter', entry['consultation'])}"}
    context["practiceSetting"] = PRACTICE_SETTING
    if "problem" in entry:
        context["related"] = [{"ref": {"reference": f"Condition/{ids.resource_id(nhs, 'Condition', entry['problem'])}"}}]
    resource["context"] = context
    return resource


def binary_parts(document: Document) -> tuple[bytes, bytes]:
    """The JSON around the base64 content: a STU3 Binary with id, meta.versionId, contentType.

    No securityContext (documents.md: SHALL NOT be populated).
    """
    head = ('{"resourceType":"Binary","id":%s,"meta":{"versionId":%s},"contentType":%s,"content":"'
            % (json.dumps(document.binary_id), json.dumps(document.version_id),
               json.dumps(document.content_type))).encode("utf-8")
    return head, b'"}'


def binary_stream(document: Document):
    """(exact Content-Length, iterator of body pieces): the Binary JSON, content streamed as base64."""
    head, tail = binary_parts(document)
    length = len(head) + base64_length(document.size) + len(tail)

    def pieces():
        yield head
        yield from document.base64_chunks()
        yield tail

    return length, pieces()
