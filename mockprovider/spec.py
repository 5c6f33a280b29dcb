"""GP Connect facts as data: interaction ids, profile and system URLs, list codes.

Nothing here does anything; every other module reads its constants from here.
Sources: ../shared/spec/*.md (distilled from nhsconnect/gpconnect feature/1.6.2).
"""

# --- Interaction ids (Ssp-InteractionID) -------------------------------------------------------
MIGRATE_STRUCTURED = "urn:nhs:names:services:gpconnect:fhir:operation:gpc.migratestructuredrecord-1"
MIGRATE_DOCUMENT = "urn:nhs:names:services:gpconnect:documents:fhir:rest:migrate:binary-1"
RETRIEVE_DOCUMENT = "urn:nhs:names:services:gpconnect:documents:fhir:rest:read:binary-1"
# One seed page (the interaction-id table) spells the retrieve id with "gpconnect-documents".
RETRIEVE_DOCUMENT_ALT = "urn:nhs:names:services:gpconnect-documents:fhir:rest:read:binary-1"
FIND_PATIENT = "urn:nhs:names:services:gpconnect:documents:fhir:rest:search:patient-1"
SEARCH_DOCUMENTS = "urn:nhs:names:services:gpconnect:documents:fhir:rest:search:documentreference-1"
METADATA_FOUNDATIONS = "urn:nhs:names:services:gpconnect:fhir:rest:read:metadata-1"
METADATA_STRUCTURED = "urn:nhs:names:services:gpconnect:structured:fhir:rest:read:metadata-1"
METADATA_DOCUMENTS = "urn:nhs:names:services:gpconnect:documents:fhir:rest:read:metadata-1"

# --- Code systems and identifier systems ---------------------------------------------------------
SPINE_ERROR_SYSTEM = "https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_ORG_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_SITE_SYSTEM = "https://fhir.nhs.uk/Id/ods-site-code"
SDS_USER_SYSTEM = "https://fhir.nhs.uk/Id/sds-user-id"
SDS_ROLE_PROFILE_SYSTEM = "https://fhir.nhs.uk/Id/sds-role-profile-id"
GMC_SYSTEM = "https://fhir.hl7.org.uk/Id/gmc-number"
GMP_SYSTEM = "https://fhir.hl7.org.uk/Id/gmp-number"
SNOMED = "http://snomed.info/sct"
READ_V2 = "http://read.info/readv2"
CTV3 = "http://read.info/ctv3"
ACT_CODE_SYSTEM = "http://hl7.org/fhir/v3/ActCode"

NHS_NUMBER_STATUS_EXTENSION = (
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-NHSNumberVerificationStatus-1"
)
# Every spec example uses the first form; the CodeSystem's canonical URL is the second.
NHS_NUMBER_STATUS_SYSTEM_EXAMPLE = "https://fhir.nhs.uk/CareConnect-NHSNumberVerificationStatus-1"
NHS_NUMBER_STATUS_SYSTEM_CANONICAL = "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-NHSNumberVerificationStatus-1"
NHS_NUMBER_STATUSES = {
    "01": "Number present and verified",
    "02": "Number present but not traced",
    "03": "Trace required",
    "04": "Trace attempted - No match or multiple match found",
    "05": "Trace needs to be resolved - (NHS number or patient detail conflict)",
    "06": "Trace in progress",
    "07": "Number not present and trace not required",
    "08": "Trace postponed (baby under six weeks old)",
}
NHS_NUMBER_VERIFIED = "01"

NOPAT_SECURITY = {
    "system": ACT_CODE_SYSTEM,
    "code": "NOPAT",
    "display": "no disclosure to patient, family or caregivers without attending provider's authorization",
}

# --- Profiles ------------------------------------------------------------------------------------
SD = "https://fhir.nhs.uk/STU3/StructureDefinition/"
PROFILE_OPERATION_OUTCOME = SD + "GPConnect-OperationOutcome-1"
PROFILE_STRUCTURED_BUNDLE = SD + "GPConnect-StructuredRecord-Bundle-1"
PROFILE_SEARCHSET_BUNDLE = SD + "GPConnect-Searchset-Bundle-1"
PROFILE_PATIENT = SD + "CareConnect-GPC-Patient-1"
PROFILE_ORGANIZATION = SD + "CareConnect-GPC-Organization-1"
PROFILE_PRACTITIONER = SD + "CareConnect-GPC-Practitioner-1"
PROFILE_PRACTITIONER_ROLE = SD + "CareConnect-GPC-PractitionerRole-1"
PROFILE_LOCATION = SD + "CareConnect-GPC-Location-1"
PROFILE_DOCUMENT_REFERENCE = SD + "CareConnect-GPC-DocumentReference-1"
PROFILE_LIST = SD + "CareConnect-GPC-List-1"

# --- JWT ------------------------------------------------------------------------------------------
JWT_CLAIMS = (
    "iss", "sub", "aud", "exp", "iat", "reason_for_request", "requested_scope",
    "requesting_device", "requesting_organization", "requesting_practitioner",
)
JWT_LIFETIME_SECONDS = 300
RESOURCE_SCOPES = ("patient/*.read", "patient/*.write", "organization/*.read", "organization/*.write")
CONFIDENTIALITY_SCOPES = ("conf/N", "conf/R")
REASONS = ("directcare", "migration")

# --- Media types ------------------------------------------------------------------------------------
FHIR_JSON = "application/fhir+json"
FHIR_JSON_UTF8 = "application/fhir+json;charset=utf-8"
FHIR_XML = "application/fhir+xml"
