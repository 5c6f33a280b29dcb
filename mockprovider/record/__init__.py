"""The structured record, one clinical area a module: each holds that area's persona fields and
checks and its FHIR builders side by side, and names the 1.6.2 page it implements.

=================  ===================================================================
module             persona field -> resources
=================  ===================================================================
problems           ``problems`` -> Condition (problem header)
allergies          ``allergies`` -> AllergyIntolerance (ended: in the Ended allergies List)
medications        ``medications`` -> MedicationStatement, MedicationRequest, Medication
uncategorised      ``observations`` -> Observation (incl. blood pressure)
immunisations      ``immunisations`` -> Immunization
investigations     ``investigations`` -> DiagnosticReport, ProcedureRequest, Specimen, Observations
referrals          ``referrals`` -> ReferralRequest
diary              ``diary`` -> ProcedureRequest (plan)
consultations      ``consultations`` -> Encounter, consultation/topic/heading Lists, narratives
documents          ``documents`` -> DocumentReference
lists              primary and secondary Lists, warnings, empty reasons
common             ids, coding, dates, the build context, checks shared by every item
check              the ``record`` section validator (registered on import)
=================  ===================================================================

The Bundle is assembled by :mod:`mockprovider.fhir.structured`.

Imports: ``personas``, ``spec``, ``errors``, ``config``; never ``fhir`` (which assembles the Bundle
from these modules), ``state``, ``registry``, ``process``, ``interactions``, ``http``, ``app``,
``cli`` or ``server``.
"""
from . import check  # noqa: F401  (registers the record section validator)
from . import (allergies, consultations, diary, immunisations, investigations, medications, problems,
               referrals, uncategorised)

# Clinical areas in Bundle order (their resources follow the Lists in this order).
AREAS = (problems, allergies, medications, uncategorised, immunisations, investigations, referrals, diary,
         consultations)
