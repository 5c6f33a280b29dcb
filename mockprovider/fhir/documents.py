"""Documents as FHIR STU3: CareConnect-GPC-DocumentReference-1 and the streamed Binary.

The DocumentReference builder lives with the record's documents area
(:mod:`mockprovider.record.documents`) and is re-exported here. Public surface (kept stable; the
migrate structured Bundle and the documents search call it):

    document_reference(document, *, documents_base, custodian_ods, unavailable=None) -> dict
    document_reference_id(document) -> str
    binary_stream(document) -> (content_length, iterator of bytes)
    organization(ods, practice_ods) -> Organization of a document author / custodian

``document`` is a :class:`mockprovider.personas.documents.Document`; get one with
``mockprovider.personas.documents.index(runtime.personas).of(persona)`` (every document of a
persona, in persona order) or ``.get(binary_id)``.

Facts: ../shared/spec/documents.md ("DocumentReference" and "Binary resource").
"""
from __future__ import annotations

import json

from .. import spec
from ..personas import ids
from ..personas.documents import Document, base64_length
from ..record.documents import (IDENTIFIER_SYSTEM, OVER_MIGRATE_LIMIT, OVER_RETRIEVE_LIMIT,  # noqa: F401
                                PRACTICE_SETTING, binary_url, document_reference, document_reference_id)
from . import admin

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


def binary_parts(document: Document, fmt: str = "json") -> tuple[bytes, bytes]:
    """The JSON (or XML) around the base64 content: a STU3 Binary with id, meta.versionId,
    contentType. Base64 needs no escaping in either form.

    No securityContext (documents.md: SHALL NOT be populated).
    """
    if fmt == "xml":
        from .xml import DECLARATION, NS, _text
        head = (f'{DECLARATION}<Binary xmlns="{NS}"><id value="{_text(document.binary_id)}"/><meta><versionId '
                f'value="{_text(document.version_id)}"/></meta><contentType value="{_text(document.content_type)}"/>'
                f'<content value="').encode("utf-8")
        return head, b'"/></Binary>'
    head = ('{"resourceType":"Binary","id":%s,"meta":{"versionId":%s},"contentType":%s,"content":"'
            % (json.dumps(document.binary_id), json.dumps(document.version_id),
               json.dumps(document.content_type))).encode("utf-8")
    return head, b'"}'


def binary_stream(document: Document, fmt: str = "json"):
    """(exact Content-Length, iterator of body pieces): the Binary JSON (or XML), content streamed
    as base64."""
    head, tail = binary_parts(document, fmt)
    length = len(head) + base64_length(document.size) + len(tail)

    def pieces():
        yield head
        yield from document.base64_chunks()
        yield tail

    return length, pieces()
