"""GP Connect facts as data: interaction ids, profile and system URLs, list codes.

Nothing here does anything; every other module reads its constants from here.
Sources: ../shared/spec/*.md (distilled from nhsconnect/gpconnect feature/1.6.2).
"""

# --- Interaction ids (Ssp-InteractionID) -------------------------------------------------------
MIGRATE_STRUCTURED = "urn:nhs:names:services:gpconnect:fhir:operation:gpc.migratestructuredrecord-1"
# Retrieve a patient's structured record (accessrecord_structured_development_retrieve_patient_record.md).
RETRIEVE_STRUCTURED = "urn:nhs:names:services:gpconnect:fhir:operation:gpc.getstructuredrecord-1"
MIGRATE_DOCUMENT = "urn:nhs:names:services:gpconnect:documents:fhir:rest:migrate:binary-1"
RETRIEVE_DOCUMENT = "urn:nhs:names:services:gpconnect:documents:fhir:rest:read:binary-1"
# One seed page (the interaction-id table) spells the retrieve id with "gpconnect-documents".
RETRIEVE_DOCUMENT_ALT = "urn:nhs:names:services:gpconnect-documents:fhir:rest:read:binary-1"
FIND_PATIENT = "urn:nhs:names:services:gpconnect:documents:fhir:rest:search:patient-1"
# Read a patient on the documents root: the interaction-id table of one seed page (gpconnect-documents
# spelling); the gpconnect:documents form matches every other documents id.
READ_PATIENT = "urn:nhs:names:services:gpconnect:documents:fhir:rest:read:patient-1"
READ_PATIENT_ALT = "urn:nhs:names:services:gpconnect-documents:fhir:rest:read:patient-1"
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

# Structured record (migrate-structured.md): clinical profiles, list codes and list extensions.
PROFILE_ALLERGY = SD + "CareConnect-GPC-AllergyIntolerance-1"
PROFILE_MEDICATION = SD + "CareConnect-GPC-Medication-1"
PROFILE_MEDICATION_STATEMENT = SD + "CareConnect-GPC-MedicationStatement-1"
PROFILE_MEDICATION_REQUEST = SD + "CareConnect-GPC-MedicationRequest-1"
PROFILE_IMMUNIZATION = SD + "CareConnect-GPC-Immunization-1"
PROFILE_OBSERVATION = SD + "CareConnect-GPC-Observation-1"
PROFILE_ENCOUNTER = SD + "CareConnect-GPC-Encounter-1"
PROFILE_PROBLEM = SD + "CareConnect-GPC-ProblemHeader-Condition-1"
PROFILE_DIAGNOSTIC_REPORT = SD + "CareConnect-GPC-DiagnosticReport-1"
PROFILE_SPECIMEN = SD + "CareConnect-GPC-Specimen-1"
PROFILE_PROCEDURE_REQUEST = SD + "CareConnect-GPC-ProcedureRequest-1"
PROFILE_REFERRAL_REQUEST = SD + "CareConnect-GPC-ReferralRequest-1"

# Primary lists: area -> (SNOMED code, code display, List.title). The table in
# migrate-structured.md is authoritative (the examples are stale); note the uncategorised title.
PRIMARY_LISTS = {
    "allergies": ("886921000000105", "Allergies and adverse reactions", "Allergies and adverse reactions"),
    "ended_allergies": ("1103671000000101", "Ended allergies", "Ended allergies"),
    "consultations": ("1149501000000101", "List of consultations", "List of consultations"),
    "diary": ("714311000000108", "Patient recall administration", "Patient recall administration"),
    "immunisations": ("1102181000000102", "Immunisations", "Immunisations"),
    "investigations": ("887191000000108", "Investigations and results", "Investigations and results"),
    "medications": ("933361000000108", "Medications and medical devices", "Medications and medical devices"),
    "referrals": ("792931000000107", "Outbound referral", "Outbound referral"),
    "problems": ("717711000000103", "Problems", "Problems"),
    "observations": ("826501000000100", "Miscellaneous record", "Uncategorised data"),
}
SECONDARY_LIST_SYSTEM = "https://fhir.hl7.org.uk/STU3/CodeSystem/GPConnect-SecondaryListValues-1"
LIST_WARNING_EXTENSION = SD + "Extension-CareConnect-GPC-ListWarningCode-1"
LIST_WARNING_SYSTEM = "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-ListWarningCode-1"
# Warning code -> the List.note text (accessrecord_structured_development_lists_for_message_structure.md,
# "Warning codes"), in the code system's order; "{date}" is dd-Mmm-yyyy.
LIST_WARNINGS = {
    "confidential-items": "Items excluded due to confidentiality and/or patient preferences.",
    "data-in-transit": ("Patient record transfer from previous GP practice not yet complete; information recorded "
                        "before {date} may be missing."),
    "data-awaiting-filing": ("Patient record contains some items in the GP practice workflow that have not been "
                             "reviewed for inclusion in this message; information recorded before {date} may be "
                             "missing."),
}
LIST_EMPTY_REASON = {"system": "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-ListEmptyReasonCode-1",
                     "code": "no-content-recorded", "display": "No Content Recorded"}
LIST_EMPTY_NOTE = "Information not available"
CLINICAL_SETTING_EXTENSION = SD + "Extension-CareConnect-GPC-ClinicalSetting-1"
CLINICAL_SETTING = ("1060971000000108", "General practice service")
CONSULTATION_LIST_CODE = ("325851000000107", "Consultation")
TOPIC_LIST_CODE = ("25851000000105", "Topic (EHR)")
CATEGORY_LIST_CODE = ("24781000000107", "Category (EHR)")

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
FHIR_XML_UTF8 = "application/fhir+xml;charset=utf-8"
CONTENT_TYPES = {"json": FHIR_JSON_UTF8, "xml": FHIR_XML_UTF8}

# --- Look-up services around the provider (issue #26) ------------------------------------------------
# SDS FHIR API (NHSDigital/spine-directory-service-api: specification/spine-directory-service.yaml and
# its request handlers): query identifier systems and the systems of what it answers.
SDS_INTERACTION_SYSTEM = "https://fhir.nhs.uk/Id/nhsServiceInteractionId"
SDS_PARTY_KEY_SYSTEM = "https://fhir.nhs.uk/Id/nhsMhsPartyKey"
SDS_ASID_SYSTEM = "https://fhir.nhs.uk/Id/nhsSpineASID"
SDS_MHS_ID_SYSTEM = "https://fhir.nhs.uk/Id/nhsMHSId"
SDS_CPA_ID_SYSTEM = "https://fhir.nhs.uk/Id/nhsMhsCPAId"
SDS_FQDN_SYSTEM = "https://fhir.nhs.uk/Id/nhsMhsFQDN"
SDS_MANUFACTURER_EXTENSION = "https://fhir.nhs.uk/StructureDefinition/Extension-SDS-ManufacturingOrganisation"
SDS_INTERACTION_EXTENSION = "https://fhir.nhs.uk/StructureDefinition/Extension-SDS-NhsServiceInteractionId"
SDS_RELIABILITY_EXTENSION = "https://fhir.nhs.uk/StructureDefinition/Extension-SDS-ReliabilityConfiguration"
ENDPOINT_CONNECTION_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
ENDPOINT_PAYLOAD_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/endpoint-payload-type"

# PDS FHIR API (NHSDigital/personal-demographics-service-api: specification/, sandbox/mocks/).
PDS_CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
PDS_NHS_NUMBER_STATUS_EXTENSION = \
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
PDS_NHS_NUMBER_STATUS_SYSTEM = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus"
PDS_DEATH_NOTIFICATION_EXTENSION = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus"
PDS_DEATH_NOTIFICATION_SYSTEM = "https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus"
R4_ERROR_SYSTEM = "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode"
