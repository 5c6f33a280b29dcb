"""Administrative resource builders validate as STU3 and follow the spec's Patient rules."""
from pathlib import Path

import pytest
from fhir.resources.STU3.location import Location
from fhir.resources.STU3.organization import Organization
from fhir.resources.STU3.patient import Patient
from fhir.resources.STU3.practitioner import Practitioner
from fhir.resources.STU3.practitionerrole import PractitionerRole

from mockprovider.personas import ids
from mockprovider.personas.store import PersonaStore
from mockprovider.fhir import admin

PERSONAS = Path(__file__).resolve().parents[2] / "personas"
MODELS = {"Patient": Patient, "Organization": Organization, "Location": Location,
          "Practitioner": Practitioner, "PractitionerRole": PractitionerRole}


@pytest.fixture(scope="module")
def persona():
    return PersonaStore.load(PERSONAS).get("9690937286")


def test_admin_resources_validate(persona):
    resources = admin.admin_resources(persona, "B82617")
    assert [r["resourceType"] for r in resources] == ["Patient", "Organization", "Location", "Practitioner",
                                                     "PractitionerRole"]
    for r in resources:
        MODELS[r["resourceType"]].model_validate(r)
        assert r["meta"]["versionId"]


@pytest.mark.parametrize("mode,system", [
    ("example", "https://fhir.nhs.uk/CareConnect-NHSNumberVerificationStatus-1"),
    ("canonical", "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-NHSNumberVerificationStatus-1"),
])
def test_patient_identifier_and_status(persona, mode, system):
    p = admin.patient(persona, "B82617", mode)
    assert p["id"] == ids.patient_id("9690937286")
    assert p["meta"]["profile"] == ["https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Patient-1"]
    ident = p["identifier"][0]
    assert ident["system"] == "https://fhir.nhs.uk/Id/nhs-number" and ident["value"] == "9690937286"
    ext = ident["extension"][0]
    assert ext["url"] == ("https://fhir.nhs.uk/STU3/StructureDefinition/"
                          "Extension-CareConnect-GPC-NHSNumberVerificationStatus-1")
    assert ext["valueCodeableConcept"]["coding"] == [
        {"system": system, "code": "01", "display": "Number present and verified"}]
    refs = [g["reference"] for g in p["generalPractitioner"]]
    assert f"Organization/{ids.organization_id('B82617')}" in refs
    assert f"Practitioner/{ids.practitioner_id('G1357913')}" in refs


def test_builders_are_deterministic(persona):
    assert admin.admin_resources(persona, "B82617") == admin.admin_resources(persona, "B82617")
