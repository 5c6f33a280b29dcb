"""Documents in the structured record: ``documents`` (persona section, format and checks in
:mod:`mockprovider.personas.documents`) -> DocumentReference (CareConnect-GPC-DocumentReference-1).

Pages (1.6.2): pages/accessrecord_structured/accessrecord_structured_development_documents_guidance.md,
and pages/access_documents/ for the DocumentReference itself; facts in ../shared/spec/documents.md
("DocumentReference").

The same DocumentReference is listed by the documents search (``mockprovider.fhir.documents``
re-exports :func:`document_reference`) and by the migrate structured Bundle. In the Bundle a
document joins the problem and consultation links under the key ``document:<key>``
(:func:`record_keys`); a link to a problem or consultation that was left out (confidential) is
dropped from ``context`` (:func:`in_bundle`).
"""
from __future__ import annotations

from .. import spec
from ..personas import ids
from ..personas.documents import Document

# Supplier-namespaced identifier system of the persistent DocumentReference identifier.
IDENTIFIER_SYSTEM = "https://mockprovider.invalid/Id/document-reference"
PRACTICE_SETTING = {"coding": [{"system": spec.SNOMED, "code": "1060971000000108",
                                "display": "General practice service"}]}

# attachment.title of a placeholder (no url): why the file is not available in this context.
OVER_RETRIEVE_LIMIT = ("This document is not available through Retrieve a document: it is larger than "
                       "the {limit} bytes that interaction allows.")
OVER_MIGRATE_LIMIT = ("This document is not available through Migrate a document: it is larger than "
                      "the {limit} bytes that interaction allows.")


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


def record_keys(documents) -> dict:
    """``document:<key>`` -> Document: the keys documents use among the record's item keys."""
    return {f"document:{d.key}": d for d in documents}


def in_bundle(doc: Document, *, documents_base: str, custodian_ods: str, migrate_limit_bytes: int,
              consultations_sent, problems_sent) -> dict:
    """The document's DocumentReference as the migrate Bundle lists it.

    A document larger than ``migrate_limit_bytes`` (the flag ``migrate_document_limit_bytes``;
    0 = unlimited) is a placeholder: no url, the reason in attachment.title.
    """
    unavailable = None
    if migrate_limit_bytes and doc.size > migrate_limit_bytes:
        unavailable = OVER_MIGRATE_LIMIT.format(limit=migrate_limit_bytes)
    ref = document_reference(doc, documents_base=documents_base, custodian_ods=custodian_ods,
                             unavailable=unavailable)
    context = ref.get("context", {})
    if doc.entry.get("consultation") not in consultations_sent:
        context.pop("encounter", None)     # its consultation was left out (confidential)
    if doc.entry.get("problem") not in problems_sent:
        context.pop("related", None)
    return ref


def attachment(doc: Document, documents_base: str) -> dict:
    """The document as an Attachment (a test result's value): its Binary's URL, type, size, title."""
    return {"contentType": doc.content_type, "url": binary_url(documents_base, doc), "size": doc.size,
            "title": doc.entry["description"]}
