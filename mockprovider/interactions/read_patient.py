"""Read a patient (Access Document): GET {documents root}/Patient/{logical id}.

Interaction ``urn:nhs:names:services:gpconnect:documents:fhir:rest:read:patient-1`` (the seed's
interaction table spells it ``gpconnect-documents``; both are accepted). The logical id is the one
find-a-patient returns. Rules, in order:
  1. GP Connect or the Access Document capability disabled -> 403 ACCESS DENIED
  2. no findable patient with that id (unknown, sensitive, deceased or inactive: the same patients
     find-a-patient does not return)                         -> 404 PATIENT_NOT_FOUND
  3. 200 Patient (CareConnect-GPC-Patient-1) with ``ETag: W/"<versionId>"``
"""
from __future__ import annotations

from ..errors import SpineError
from ..fhir import admin
from ..fhir.render import in_format, to_json_bytes
from ..personas.documents import findable, index
from . import Call, Reply
from .retrieve_document import check_enabled


def handle(call: Call) -> Reply:
    check_enabled(call.flags)
    patient_id = call.params["patient_id"]
    persona = index(call.runtime.personas).by_patient_id.get(patient_id)
    if not call.at_practice(persona) or not findable(persona):
        raise SpineError("PATIENT_NOT_FOUND", f"No patient with logical id {patient_id}")
    status_system = call.flags["nhs_number_status_system"]
    cache = call.runtime.caches.setdefault("read_patient", {})
    gp_mode = call.flags.get("patient_general_practitioner", "seed")
    key = (patient_id, status_system, gp_mode)
    body = cache.get(key)
    if body is None:
        resource = admin.patient(persona, call.ods, status_system, gp_mode)
        body = cache[key] = (to_json_bytes(resource), resource["meta"]["versionId"])
    return Reply(in_format(body[0], call.format), headers={"ETag": f'W/"{body[1]}"'}, facts={"nhs_number": persona.nhs_number})
