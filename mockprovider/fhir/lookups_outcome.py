"""The one place a look-up failure (mockprovider.lookup_errors.LookupFailure) becomes a body.

- SDS: an OperationOutcome whose ``id`` is the request's X-Correlation-Id and whose coding is the SDS
  service's (its error handler), or the API platform's for a 401 / 503;
- PDS: an OperationOutcome with the R4 Spine-ErrorOrWarningCode coding (``version`` 1) the PDS spec
  lists, ``diagnostics`` when there is something to add;
- the token endpoint: ``{"error", "error_description", "message_id"}`` (OAuth 2.0 as the API platform
  writes it).
"""
from __future__ import annotations

import hashlib

from ..lookup_errors import PLATFORM_SYSTEM, LookupFailure, Row


def issue(row: Row, diagnostics: str | None) -> dict:
    coding = {"system": row.system, "code": row.code, "display": row.display}
    if row.system == PLATFORM_SYSTEM:
        coding = {"system": row.system, "version": "1", "code": row.code, "display": row.display}
    out = {"severity": row.severity, "code": row.issue_type, "details": {"coding": [coding]}}
    if diagnostics:
        out["diagnostics"] = diagnostics
    return out


def outcome(failure: LookupFailure, correlation_id: str | None = None) -> dict:
    """The body of ``failure`` (a dict: JSON for every API)."""
    if failure.api == "oauth":
        digest = hashlib.sha256(f"{failure.code}|{failure.diagnostics}|{correlation_id}".encode()).hexdigest()
        return {"error": failure.code, "error_description": failure.diagnostics,
                "message_id": f"rrt-mockprovider-{digest[:16]}"}
    row = failure.row
    body = {"resourceType": "OperationOutcome"}
    if failure.api == "sds" and row.system != PLATFORM_SYSTEM and correlation_id:
        body["id"] = correlation_id
    body["issue"] = [issue(row, failure.diagnostics)]
    return body
