"""Administrative resources of a persona: Patient, Organization, Location, Practitioner, PractitionerRole.

Shared by the migrate-structured Bundle and the documents interactions (find patient, search).
Every builder returns a plain dict in a fixed key order (deterministic bytes), with ids from
:mod:`mockprovider.personas.ids`, and takes only persona data and the provider's ODS code:

- ``patient(persona, ods_code, status_system="example")`` -> Patient (CareConnect-GPC-Patient-1)
  with id ``ids.patient_id(nhs)``, NHS number + verification-status extension (system per the
  ``nhs_number_status_system`` flag: "example" or "canonical"), ``meta.versionId``, registration
  details, ``generalPractitioner`` [usual GP Practitioner, practice Organization] and
  ``managingOrganization`` (the practice); ``general_practitioner="profile"`` keeps only the first
  generalPractitioner reference (the ``patient_general_practitioner`` compatibility flag).
- ``practice_organization(ods_code)`` -> the provider practice Organization (the practice the
  record migrates FROM), id ``ids.organization_id(ods_code)``.
- ``organization(ods_code, name=None)`` -> any other Organization known by its ODS code.
- ``practice_location(ods_code)`` -> its main site (the patient's preferred branch surgery).
- ``practitioner(gp)`` / ``practitioner_role(gp, ods_code)`` -> from the persona's ``usual_gp``
  section; ids ``ids.practitioner_id(sds_user_id)`` / ``ids.practitioner_role_id(sds_user_id)``.
- ``admin_resources(persona, ods_code, status_system)`` -> all of the above that apply, in Bundle
  order (Patient, Organization, Location, Practitioner, PractitionerRole).
- ``ref(resource)`` -> ``{"reference": "Type/id"}``.
"""
from __future__ import annotations

from .. import spec
from ..personas import ids

VERSION_ID = "1"   # persona data is static: every admin resource is at version 1
PRACTICE_NAME = "GP Connect Mock Practice"
PRACTICE_ADDRESS = {"use": "work", "line": ["1 Mock Street"], "city": "Leeds", "district": "West Yorkshire",
                    "postalCode": "LS1 4HR"}
PRACTICE_PHONE = "0113 496 0000"     # Ofcom drama range: never a real number
SDS_JOB_ROLE_SYSTEM = "https://fhir.hl7.org.uk/STU3/CodeSystem/CareConnect-SDSJobRoleName-1"
DEFAULT_ROLE = "R0260|General Medical Practitioner"
REGISTRATION_EXTENSION = spec.SD + "Extension-CareConnect-GPC-RegistrationDetails-1"
REGISTRATION_TYPE_SYSTEM = "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-RegistrationType-1"
REGISTRATION_TYPES = {"R": "Regular", "T": "Temporary", "E": "Emergency", "IN": "Immediately necessary",
                      "P": "Private", "O": "Other"}


def ref(resource: dict) -> dict:
    return {"reference": f"{resource['resourceType']}/{resource['id']}"}


def _meta(profile: str) -> dict:
    return {"versionId": VERSION_ID, "profile": [profile]}


def nhs_number_status_system(mode: str) -> str:
    return spec.NHS_NUMBER_STATUS_SYSTEM_CANONICAL if mode == "canonical" else spec.NHS_NUMBER_STATUS_SYSTEM_EXAMPLE


def practice_organization(ods_code: str) -> dict:
    return {
        "resourceType": "Organization",
        "id": ids.organization_id(ods_code),
        "meta": _meta(spec.PROFILE_ORGANIZATION),
        "identifier": [{"system": spec.ODS_ORG_SYSTEM, "value": ods_code}],
        "name": PRACTICE_NAME,
        "telecom": [{"system": "phone", "value": PRACTICE_PHONE, "use": "work"}],
        "address": [dict(PRACTICE_ADDRESS)],
    }


def organization(ods_code: str, name: str | None = None) -> dict:
    """Any other organisation known only by its ODS code (e.g. a hospital that authored a document)."""
    return {
        "resourceType": "Organization",
        "id": ids.organization_id(ods_code),
        "meta": _meta(spec.PROFILE_ORGANIZATION),
        "identifier": [{"system": spec.ODS_ORG_SYSTEM, "value": ods_code}],
        "name": name or f"Organisation {ods_code}",
    }


def practice_location(ods_code: str) -> dict:
    return {
        "resourceType": "Location",
        "id": ids.location_id(ods_code),
        "meta": _meta(spec.PROFILE_LOCATION),
        "name": f"{PRACTICE_NAME} main surgery",
        "address": dict(PRACTICE_ADDRESS),
        "managingOrganization": {"reference": f"Organization/{ids.organization_id(ods_code)}"},
    }


def _human_name(name: dict, use: str) -> dict:
    out = {"use": use, "family": name["family"]}
    if name.get("given"):
        out["given"] = list(name["given"])
    if name.get("prefix"):
        out["prefix"] = list(name["prefix"])
    if name.get("suffix"):
        out["suffix"] = list(name["suffix"])
    return out


def practitioner(gp: dict) -> dict:
    """The persona's usual GP (its ``usual_gp`` section)."""
    identifiers = [{"system": spec.SDS_USER_SYSTEM, "value": gp["sds_user_id"]}]
    if gp.get("gmc"):
        identifiers.append({"system": spec.GMC_SYSTEM, "value": gp["gmc"]})
    if gp.get("gmp"):
        identifiers.append({"system": spec.GMP_SYSTEM, "value": gp["gmp"]})
    out = {
        "resourceType": "Practitioner",
        "id": ids.practitioner_id(gp["sds_user_id"]),
        "meta": _meta(spec.PROFILE_PRACTITIONER),
        "identifier": identifiers,
        "name": [_human_name(gp["name"], "usual")],
    }
    if gp.get("gender"):
        out["gender"] = gp["gender"]
    return out


def practitioner_role(gp: dict, ods_code: str) -> dict:
    code, _, display = gp.get("role", DEFAULT_ROLE).partition("|")
    return {
        "resourceType": "PractitionerRole",
        "id": ids.practitioner_role_id(gp["sds_user_id"]),
        "meta": _meta(spec.PROFILE_PRACTITIONER_ROLE),
        "practitioner": {"reference": f"Practitioner/{ids.practitioner_id(gp['sds_user_id'])}"},
        "organization": {"reference": f"Organization/{ids.organization_id(ods_code)}"},
        "code": [{"coding": [{"system": SDS_JOB_ROLE_SYSTEM, "code": code, "display": display}]}],
    }


def patient(persona, ods_code: str, status_system: str = "example", general_practitioner: str = "seed") -> dict:
    """The persona's Patient. ``persona`` is a persona (:class:`mockprovider.personas.persona.Persona`)
    (or anything with ``.data``).

    general_practitioner: "seed" lists the usual GP and the practice; "profile" only the first of them
    (CareConnect-GPC-Patient-1 has generalPractitioner 0..1) -- the ``patient_general_practitioner`` flag.
    """
    data = persona.head if hasattr(persona, "head") else persona.data
    nhs = data["nhs_number"]
    status = data.get("nhs_number_status", spec.NHS_NUMBER_VERIFIED)
    org_ref = {"reference": f"Organization/{ids.organization_id(ods_code)}"}
    out = {
        "resourceType": "Patient",
        "id": ids.patient_id(nhs),
        "meta": _meta(spec.PROFILE_PATIENT),
    }
    registration = data.get("registration")
    if registration:
        kind = registration.get("type", "R")
        out["extension"] = [{"url": REGISTRATION_EXTENSION, "extension": [
            {"url": "registrationPeriod", "valuePeriod": {"start": registration["date"]}},
            {"url": "registrationType", "valueCodeableConcept": {"coding": [
                {"system": REGISTRATION_TYPE_SYSTEM, "code": kind, "display": REGISTRATION_TYPES[kind]}]}},
            {"url": "preferredBranchSurgery", "valueReference": {"reference": f"Location/{ids.location_id(ods_code)}"}},
        ]}]
    out["identifier"] = [{
        "extension": [{"url": spec.NHS_NUMBER_STATUS_EXTENSION, "valueCodeableConcept": {"coding": [{
            "system": nhs_number_status_system(status_system), "code": status,
            "display": spec.NHS_NUMBER_STATUSES[status]}]}}],
        "system": spec.NHS_NUMBER_SYSTEM,
        "value": nhs,
    }]
    out["active"] = data.get("active", True)
    out["name"] = [_human_name(data["name"], "official")]
    if data.get("telecom"):
        out["telecom"] = [dict(t) for t in data["telecom"]]
    out["gender"] = data["gender"]
    out["birthDate"] = data["birth_date"]
    if data.get("deceased"):
        out["deceasedDateTime"] = data["deceased"]
    if data.get("address"):
        a = data["address"]
        address = {"use": a.get("use", "home"), "line": list(a["line"])}
        for src, dst in (("city", "city"), ("district", "district"), ("postcode", "postalCode")):
            if a.get(src):
                address[dst] = a[src]
        out["address"] = [address]
    gps = []
    if data.get("usual_gp"):
        gps.append({"reference": f"Practitioner/{ids.practitioner_id(data['usual_gp']['sds_user_id'])}"})
    gps.append(dict(org_ref))
    out["generalPractitioner"] = gps if general_practitioner == "seed" else gps[:1]
    out["managingOrganization"] = org_ref
    return out


def admin_resources(persona, ods_code: str, status_system: str = "example",
                    general_practitioner: str = "seed") -> list[dict]:
    """Patient, practice Organization, Location (when registration names it), usual GP and role, and the
    record's other clinicians (``record.clinicians``) with their roles."""
    out = [patient(persona, ods_code, status_system, general_practitioner), practice_organization(ods_code)]
    head = persona.head if hasattr(persona, "head") else persona.data
    if head.get("registration"):
        out.append(practice_location(ods_code))
    gp = head.get("usual_gp")
    if gp:
        out += [practitioner(gp), practitioner_role(gp, ods_code)]
    for clinician in (persona.data.get("record") or {}).get("clinicians", []):
        # other clinicians of the practice who took part in the record (record.clinicians)
        out += [practitioner(clinician), practitioner_role(clinician, ods_code)]
    return out
