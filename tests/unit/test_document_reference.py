"""CareConnect-GPC-DocumentReference-1 (mockprovider.fhir.documents) against documents.md."""
from pathlib import Path

import pytest
from fhir.resources.STU3.documentreference import DocumentReference

from mockprovider.personas import ids
from mockprovider.personas.store import PersonaStore
from mockprovider.fhir.documents import OVER_RETRIEVE_LIMIT, document_reference

BUILT_IN = Path(__file__).resolve().parents[2] / "personas"
BASE = "http://mock.example/B82617/STU3/1/gpconnect/documents/fhir"
PROFILE = "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-DocumentReference-1"
FORBIDDEN = ("docStatus", "class", "authenticator", "relatesTo")


@pytest.fixture(scope="module")
def docs():
    return PersonaStore.load(BUILT_IN).documents.by_nhs["9690937286"]


def test_mandatory_and_required_fields(docs):
    for doc in docs:
        ref = document_reference(doc, documents_base=BASE, custodian_ods="B82617")
        DocumentReference.model_validate(ref)
        assert ref["id"] == ids.resource_id("9690937286", "DocumentReference", doc.key)
        assert ref["meta"]["profile"] == [PROFILE]
        assert ref["identifier"][0]["system"] and ref["identifier"][0]["value"]
        assert ref["masterIdentifier"]["value"]
        assert ref["status"] == "current"
        assert ref["type"]["coding"][0]["system"] == "http://snomed.info/sct"
        assert ref["subject"] == {"reference": f"Patient/{ids.patient_id('9690937286')}"}
        assert "T" in ref["indexed"] and ref["created"]
        assert ref["custodian"] == {"reference": f"Organization/{ids.organization_id('B82617')}"}
        assert ref["author"][0]["reference"].startswith(("Organization/", "Practitioner/"))
        assert ref["description"]
        assert ref["context"]["practiceSetting"]["coding"][0]["code"] == "1060971000000108"
        attachment = ref["content"][0]["attachment"]
        assert attachment["url"] == f"{BASE}/Binary/{doc.binary_id}"
        assert attachment["size"] == doc.size and attachment["contentType"] == doc.content_type
        assert "data" not in attachment and "title" not in attachment
        assert not any(field in ref for field in FORBIDDEN)


def test_placeholder_has_no_url_and_says_why(docs):
    doc = docs[0]
    why = OVER_RETRIEVE_LIMIT.format(limit=5242880)
    ref = document_reference(doc, documents_base=BASE, custodian_ods="B82617", unavailable=why)
    DocumentReference.model_validate(ref)
    attachment = ref["content"][0]["attachment"]
    assert "url" not in attachment and "data" not in attachment
    assert attachment["title"] == why and "5242880" in why
    assert attachment["size"] == doc.size and attachment["contentType"] == doc.content_type


def test_nopat_labels(docs):
    nopat = [doc for doc in docs if doc.nopat]
    assert nopat
    ref = document_reference(nopat[0], documents_base=BASE, custodian_ods="B82617")
    assert ref["meta"]["security"][0]["code"] == "NOPAT"
    assert ref["securityLabel"][0]["coding"][0]["code"] == "NOPAT"
    plain = document_reference(docs[0], documents_base=BASE, custodian_ods="B82617")
    assert "security" not in plain["meta"] and "securityLabel" not in plain


def test_deterministic(docs):
    a = document_reference(docs[0], documents_base=BASE, custodian_ods="B82617")
    b = document_reference(docs[0], documents_base=BASE, custodian_ods="B82617")
    assert a == b
