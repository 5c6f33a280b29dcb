"""Deterministic ids: the same persona and item always give the same id, on every run and machine."""
from __future__ import annotations

import uuid

# A fixed namespace for every id the mock derives (uuid5 of the mock's name).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/mockprovider/ids")


def resource_id(nhs_number: str, kind: str, key: str) -> str:
    """Logical id of one resource of one persona, e.g. resource_id(nhs, "AllergyIntolerance", "a1")."""
    return str(uuid.uuid5(NAMESPACE, f"{nhs_number}/{kind}/{key}"))


def patient_id(nhs_number: str) -> str:
    """The Patient's logical id: stable for a persona (documents search uses it in its URL)."""
    return resource_id(nhs_number, "Patient", "patient")


def organization_id(ods_code: str) -> str:
    """An Organization's logical id, the same in every Bundle (keyed by its ODS code)."""
    return str(uuid.uuid5(NAMESPACE, f"Organization/{ods_code}"))


def practitioner_id(key: str) -> str:
    """A Practitioner's logical id, keyed by its SDS user id (or persona-local key)."""
    return str(uuid.uuid5(NAMESPACE, f"Practitioner/{key}"))


def practitioner_role_id(key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"PractitionerRole/{key}"))


def document_id(nhs_number: str, key: str) -> str:
    """The Binary id of a persona's document (the last segment of its attachment URL)."""
    return resource_id(nhs_number, "Binary", key)


def location_id(ods_code: str) -> str:
    """The practice's main site (Patient registration details: preferred branch surgery)."""
    return str(uuid.uuid5(NAMESPACE, f"Location/{ods_code}"))
