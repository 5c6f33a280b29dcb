"""PDS FHIR API answers (FHIR R4): a persona's Patient as PDS holds it, and the search Bundle.

Shapes learnt from NHSDigital/personal-demographics-service-api (specification/components/schemas,
the sandbox's example patients; paraphrased, nothing copied):

- ``id`` and the NHS number identifier (with the UK Core verification-status extension: PDS holds
  traced numbers, so it is always ``01``; the provider's local status is not a PDS fact);
- ``meta.versionId`` (the ETag) and ``meta.security``: ``U`` unrestricted, or ``R`` restricted for a
  sensitive patient, whose ``address``, ``telecom`` and ``generalPractitioner`` are removed;
- ``name`` (use usual), ``gender``, ``birthDate``; ``deceasedDateTime`` with the UK Core
  death-notification extension (formal, from the Registrar of Deaths) for a deceased patient;
- ``generalPractitioner``: one Organization reference by ODS code, with the registration date as the
  identifier's period start; absent when the patient has no current GP;
- ``address`` (home, the city and district as further lines, as PDS writes them) and ``telecom``.

Dissent and the provider's NHS-number status never show here. Every value comes from the persona,
so the same persona always gives the same bytes.
"""
from __future__ import annotations

import uuid

from .. import spec
from ..personas.ids import NAMESPACE

VERSION_ID = "1"
SECURITY = {"U": "unrestricted", "R": "restricted"}
DEATH_FORMAL = ("2", "Formal - death notice received from Registrar of Deaths")
BASE_PATH = "/personal-demographics/FHIR/R4"


def _element_id(nhs: str, what: str) -> str:
    """PDS element ids are short opaque strings; these are stable per persona."""
    return uuid.uuid5(NAMESPACE, f"pds/{nhs}/{what}").hex[:8].upper()


def patient(persona, gp_ods: str | None) -> dict:
    """The PDS Patient of ``persona``; ``gp_ods``: the registered practice PDS shows
    (mockprovider.registry.pds_facts.general_practitioner), None for no current GP."""
    data = persona.demographics
    nhs = data["nhs_number"]
    restricted = bool((data.get("pds") or {}).get("sensitive"))
    since = (data.get("registration") or {}).get("date") or data["birth_date"]
    name = data["name"]
    usual = {"id": _element_id(nhs, "name"), "use": "usual", "period": {"start": since}}
    if name.get("given"):
        usual["given"] = list(name["given"])
    usual["family"] = name["family"]
    if name.get("prefix"):
        usual["prefix"] = list(name["prefix"])
    if name.get("suffix"):
        usual["suffix"] = list(name["suffix"])
    code = "R" if restricted else "U"
    out = {
        "resourceType": "Patient",
        "id": nhs,
        "identifier": [{
            "system": spec.NHS_NUMBER_SYSTEM, "value": nhs,
            "extension": [{"url": spec.PDS_NHS_NUMBER_STATUS_EXTENSION, "valueCodeableConcept": {"coding": [{
                "system": spec.PDS_NHS_NUMBER_STATUS_SYSTEM, "version": "1.0.0",
                "code": spec.NHS_NUMBER_VERIFIED, "display": spec.NHS_NUMBER_STATUSES[spec.NHS_NUMBER_VERIFIED]}]}}],
        }],
        "meta": {"versionId": VERSION_ID,
                 "security": [{"system": spec.PDS_CONFIDENTIALITY_SYSTEM, "code": code, "display": SECURITY[code]}]},
        "name": [usual],
        "gender": data["gender"],
        "birthDate": data["birth_date"],
    }
    if data.get("deceased"):
        died = f"{data['deceased']}T00:00:00+00:00"
        out["deceasedDateTime"] = died
        out["extension"] = [{"url": spec.PDS_DEATH_NOTIFICATION_EXTENSION, "extension": [
            {"url": "deathNotificationStatus", "valueCodeableConcept": {"coding": [{
                "system": spec.PDS_DEATH_NOTIFICATION_SYSTEM, "version": "1.0.0",
                "code": DEATH_FORMAL[0], "display": DEATH_FORMAL[1]}]}},
            {"url": "systemEffectiveDate", "valueDateTime": died}]}]
    if restricted:
        return out          # no address, telecom or generalPractitioner for a restricted patient
    if gp_ods:
        out["generalPractitioner"] = [{"id": _element_id(nhs, "gp"), "type": "Organization", "identifier": {
            "system": spec.ODS_ORG_SYSTEM, "value": gp_ods, "period": {"start": since}}}]
    telecom = data.get("telecom") or []
    if telecom:
        out["telecom"] = [{"id": _element_id(nhs, f"telecom/{i}"), "period": {"start": since},
                           "system": t["system"], "value": t["value"], **({"use": t["use"]} if "use" in t else {})}
                          for i, t in enumerate(telecom)]
    address = data.get("address")
    if address:
        lines = [*address["line"], *(address[k] for k in ("city", "district") if address.get(k))]
        out["address"] = [{"id": _element_id(nhs, "address"), "period": {"start": since},
                           "use": address.get("use", "home"), "line": lines, "postalCode": address["postcode"]}]
    return out


def search_bundle(patients: list[dict], origin: str) -> dict:
    """A search's searchset: every match scored 1 (the mock matches exactly), best first."""
    out = {"resourceType": "Bundle", "type": "searchset", "total": len(patients)}
    if patients:            # no match: no entry at all, as PDS answers an empty search
        out["entry"] = [{"fullUrl": f"{origin}{BASE_PATH}/Patient/{p['id']}", "search": {"score": 1},
                         "resource": p} for p in patients]
    return out
