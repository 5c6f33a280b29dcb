"""The error tables of the two look-up APIs around the provider, each in its own format.

Error tree::

    LookupFailure    one failure of SDS, PDS or the token endpoint: (api, code, diagnostics)
    ├── api "sds"    an SDS OperationOutcome: the SDS service's own coding (STU3 Spine value set)
    ├── api "pds"    a PDS OperationOutcome: the R4 Spine-ErrorOrWarningCode the PDS spec lists
    └── api "oauth"  the token endpoint's {"error", "error_description", "message_id"}

These are not GP Connect Spine error rows (mockprovider.errors): different APIs, different codes,
different shapes, so they never mix with that table. Rendered in one place:
mockprovider.fhir.lookups_outcome (one renderer for all three).

Sources (facts only, paraphrased):
- SDS: NHSDigital/spine-directory-service-api, the service's request/error_handler.py (status ->
  issue code and coding), request/content_type_validator.py (406), request/tracking_ids_headers_reader.py
  (X-Correlation-Id), the API proxy's AssignMessage.OAuthPolicyErrorResponse (401 shape) and
  AssignMessage.CatchallErrorMessage (the platform's UNKNOWN_ERROR), specification/spine-directory-service.yaml
  (400, 404, 405, 406, 500, 502, 504 rows);
- PDS: NHSDigital/personal-demographics-service-api, specification/components/paths/patient-get.yaml
  and patient-search.yaml (the error tables), the sandbox's error stubs (issue codes, displays);
- the token endpoint: NHSDigital/identity-service-api's client-credentials tests (error bodies).
"""
from __future__ import annotations

from dataclasses import dataclass

SDS_SYSTEM = "https://fhir.nhs.uk/STU3/ValueSet/Spine-ErrorOrWarningCode-1"   # the SDS service's coding
PLATFORM_SYSTEM = "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode"  # the API platform's / PDS's


@dataclass(frozen=True)
class Row:
    code: str
    status: int
    issue_type: str
    display: str
    system: str
    severity: str = "error"


def _rows(*rows) -> dict:
    return {(r.status, r.code): r for r in rows}


# SDS: HTTP status -> its one row (the service codes by status; 401 comes from the API platform).
SDS = {
    400: Row("BAD_REQUEST", 400, "required", "Bad request", SDS_SYSTEM),
    401: Row("ACCESS_DENIED", 401, "forbidden", "Invalid API Key", PLATFORM_SYSTEM),
    404: Row("NO_RECORD_FOUND", 404, "not-found", "No record found", SDS_SYSTEM),
    405: Row("NOT_IMPLEMENTED", 405, "not-supported", "Not implemented", SDS_SYSTEM),
    406: Row("MISSING_OR_INVALID_HEADER", 406, "not-supported", "There is a required header missing or invalid",
             SDS_SYSTEM),
    500: Row("INTERNAL_SERVER_ERROR", 500, "exception", "Unexpected internal server error", SDS_SYSTEM),
    502: Row("INTERNAL_SERVER_ERROR", 502, "exception", "Unexpected internal server error", SDS_SYSTEM),
    503: Row("UNKNOWN_ERROR", 503, "unknown", "An unknown error occurred processing this request", PLATFORM_SYSTEM),
    504: Row("INTERNAL_SERVER_ERROR", 504, "timeout", "Unexpected internal server error", SDS_SYSTEM),
}

# PDS: code -> row (the spec's tables: one code may have several statuses, e.g. ACCESS_DENIED 401/403).
PDS = {
    "INVALID_RESOURCE_ID": Row("INVALID_RESOURCE_ID", 400, "value", "Resource Id is invalid", PLATFORM_SYSTEM),
    "UNSUPPORTED_SERVICE": Row("UNSUPPORTED_SERVICE", 400, "processing", "Unsupported Service", PLATFORM_SYSTEM),
    "MISSING_VALUE": Row("MISSING_VALUE", 400, "required", "Required value is missing", PLATFORM_SYSTEM),
    "INVALID_VALUE": Row("INVALID_VALUE", 400, "value", "Provided value is invalid", PLATFORM_SYSTEM),
    "ADDITIONAL_PROPERTIES": Row("ADDITIONAL_PROPERTIES", 400, "invariant",
                                 "Additional properties should not be included", PLATFORM_SYSTEM),
    "INVALID_SEARCH_DATA": Row("INVALID_SEARCH_DATA", 400, "value", "Search data is invalid", PLATFORM_SYSTEM),
    "ACCESS_DENIED": Row("ACCESS_DENIED", 401, "forbidden", "Access Denied - Unauthorised", PLATFORM_SYSTEM),
    "INVALID_METHOD": Row("INVALID_METHOD", 403, "forbidden", "Invalid method", PLATFORM_SYSTEM),
    "RESOURCE_NOT_FOUND": Row("RESOURCE_NOT_FOUND", 404, "not-found", "Resource not found", PLATFORM_SYSTEM,
                              severity="information"),
    "INVALIDATED_RESOURCE": Row("INVALIDATED_RESOURCE", 404, "processing",
                                "Resource that has been marked as invalid was requested - invalid resources "
                                "cannot be retrieved", PLATFORM_SYSTEM),
    # 200 with this OperationOutcome as the body: the search matched more patients than asked for.
    "TOO_MANY_MATCHES": Row("TOO_MANY_MATCHES", 200, "multiple-matches", "Too Many Matches", PLATFORM_SYSTEM,
                            severity="information"),
    # 5xx from the API platform (a fault rule's 502 / 503 / 504): its catch-all row.
    "UNKNOWN_ERROR": Row("UNKNOWN_ERROR", 500, "unknown", "An unknown error occurred processing this request",
                         PLATFORM_SYSTEM),
}

# The token endpoint (OAuth 2.0): error -> HTTP status.
OAUTH = {"invalid_request": 400, "unsupported_grant_type": 400}


class LookupFailure(Exception):
    """One SDS, PDS or token-endpoint failure; ``api`` says which table (and shape) it belongs to."""

    def __init__(self, api: str, code, diagnostics: str, status: int | None = None, headers=None):
        if api == "sds" and code not in SDS:
            raise KeyError(f"unknown SDS status {code!r}")
        if api == "pds" and code not in PDS:
            raise KeyError(f"unknown PDS error code {code!r}")
        if api == "oauth" and code not in OAUTH:
            raise KeyError(f"unknown OAuth error {code!r}")
        super().__init__(f"{api} {code}: {diagnostics}")
        self.api, self.code, self.diagnostics = api, code, diagnostics
        self.headers = dict(headers or {})
        if status is not None:
            self.status = status
        elif api == "sds":
            self.status = code
        elif api == "pds":
            self.status = PDS[code].status
        else:
            self.status = OAUTH[code]

    @property
    def row(self) -> Row | None:
        if self.api == "sds":
            return SDS[self.code]
        if self.api == "pds":
            return PDS[self.code]
        return None

    @property
    def journal_code(self) -> str:
        row = self.row
        return row.code if row is not None else str(self.code)


def sds(status: int, diagnostics: str, **extra) -> LookupFailure:
    return LookupFailure("sds", status, diagnostics, **extra)


def pds(code: str, diagnostics: str, **extra) -> LookupFailure:
    return LookupFailure("pds", code, diagnostics, **extra)


def oauth(error: str, description: str, status: int | None = None) -> LookupFailure:
    return LookupFailure("oauth", error, description, status=status)
