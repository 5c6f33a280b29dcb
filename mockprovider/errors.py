"""The Spine error table and the one exception every failure is raised as.

Error tree::

    SpineError                 a GP Connect OperationOutcome: code -> (HTTP status, issue type, display)
    └── raised by the gate (headers, JWT, media types), the interactions and the fault injector;
        rendered in exactly one place: mockprovider.fhir.outcome.

No Flask here. Codes, statuses, issue types and displays come from ../shared/spec/errors.md §2:
display is the Spine-ErrorOrWarningCode-1 CodeSystem display by default; the guidance-table
wording is the compatibility alternative (flag ``error_display = guidance``).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SpineCode:
    code: str
    status: int
    issue_type: str
    display: str            # CodeSystem display (default)
    guidance_display: str   # wording of the GP Connect error-handling guidance table


_ROWS = [
    # code, HTTP, issue.code, CodeSystem display, guidance display
    ("INVALID_IDENTIFIER_SYSTEM", 400, "value", "Invalid identifier system", "Invalid identifier system"),
    ("INVALID_IDENTIFIER_VALUE", 400, "value", "Invalid identifier value", "Invalid identifier value"),
    ("INVALID_NHS_NUMBER", 400, "value", "Invalid NHS number", "Invalid NHS number"),
    ("INVALID_PATIENT_DEMOGRAPHICS", 400, "business-rule", "Invalid patient demographics",
     "Invalid patient demographics (that is, PDS trace failed)"),
    ("ORGANISATION_NOT_FOUND", 404, "not-found", "Organisation not found", "Organisation not found"),
    ("PATIENT_NOT_FOUND", 404, "not-found", "Patient not found", "Patient not found"),
    ("PRACTITIONER_NOT_FOUND", 404, "not-found", "Practitioner not found", "Practitioner not found"),
    ("NO_RECORD_FOUND", 404, "not-found", "No record found", "No record found"),
    ("NO_PATIENT_CONSENT", 403, "forbidden", "Patient has not provided consent to share data",
     "Patient has not provided consent to share data"),
    ("NO_ORGANISATIONAL_CONSENT", 403, "forbidden", "Organisation has not provided consent to share data",
     "Organisation has not provided consent to share data"),
    # The code really contains a space, as the seeds and the CodeSystem write it.
    ("ACCESS DENIED", 403, "forbidden", "Access has been denied to process this request", "Access denied"),
    ("NO_RELATIONSHIP", 403, "forbidden", "No legitimate relationship exists with this patient",
     "No legitimate relationship exists with this patient"),
    ("DUPLICATE_REJECTED", 409, "duplicate", "Create would lead to creation of a duplicate resource",
     "Create would lead to creation of a duplicate resource"),
    ("INVALID_RESOURCE", 422, "invalid", "Invalid validation of resource", "Invalid validation of resource"),
    ("INVALID_PARAMETER", 422, "invalid", "Invalid parameter", "Invalid parameter"),
    ("REFERENCE_NOT_FOUND", 422, "invalid", "Reference not found", "Reference not found"),
    ("BAD_REQUEST", 400, "invalid", "Bad request", "Submitted request is malformed/invalid"),
    ("CONFLICTING_VALUES", 400, "invalid", "Conflicting values have been specified in different fields",
     "Conflicting values have been specified in different fields"),
    ("NOT_IMPLEMENTED", 501, "not-supported", "Not implemented", "Not implemented"),
    ("INTERNAL_SERVER_ERROR", 500, "processing", "Unexpected internal server error",
     "Unexpected internal server error"),
    # In the CodeSystem, absent from the GP Connect table; the general API guidance says an
    # unsupported format SHALL get HTTP 415.
    ("UNSUPPORTED_MEDIA_TYPE", 415, "not-supported", "Unsupported media type", "Unsupported media type"),
    # Stale: only the migrate-a-document seed page uses it (see errors.md §4.2); not in the
    # CodeSystem. Emitted only while the compatibility flag migrate_document_codes = "seed".
    ("NOT_AUTHORISED", 403, "forbidden", "Not authorised", "Not authorised"),
]

TABLE: dict[str, SpineCode] = {row[0]: SpineCode(*row) for row in _ROWS}


class SpineError(Exception):
    """A failure that is answered with a spec-exact GPConnect-OperationOutcome-1."""

    def __init__(self, code: str, diagnostics: str):
        if code not in TABLE:  # a programming error, never a client's
            raise KeyError(f"unknown Spine error code {code!r}")
        super().__init__(f"{code}: {diagnostics}")
        self.spine = TABLE[code]
        self.diagnostics = diagnostics

    @property
    def code(self) -> str:
        return self.spine.code

    @property
    def status(self) -> int:
        return self.spine.status


# Proxy-style failures a fault rule may ask for (502/503/504): not provider errors, so they are
# not in the Spine table; their bodies follow the SSP shape in errors.md §2 "SSP errors".
PROXY_STATUSES = {
    502: ("transient", "Bad Gateway"),
    503: ("transient", "Service Unavailable"),
    504: ("timeout", "Gateway Timeout"),
}

# The Spine Secure Proxy's own refusals (the error-handling guidance's "Spine Secure Proxy (SSP)
# errors" table; errors.md §2), answered in ``ssp_checks`` mode (mockprovider.http.ssp): HTTP status
# -> (issue type, what the row says). Not provider errors either: the same SSP shape as above.
SSP_REFUSALS = {
    400: ("invalid", "Target URL varies from endpoint registered in SDS"),
    403: ("forbidden", "Sender or receiver ASID is not authorised for this interaction"),
    502: ("transient", "Error communicating to target URL"),
}
