"""GPConnect-OperationOutcome-1: the one place a SpineError becomes a body."""
from __future__ import annotations

from .. import spec
from ..errors import PROXY_STATUSES, SSP_REFUSALS, SpineError


def operation_outcome(error: SpineError, display_mode: str = "codesystem") -> dict:
    spine = error.spine
    display = spine.guidance_display if display_mode == "guidance" else spine.display
    return {
        "resourceType": "OperationOutcome",
        "meta": {"profile": [spec.PROFILE_OPERATION_OUTCOME]},
        "issue": [{
            "severity": "error",
            "code": spine.issue_type,
            "details": {"coding": [{
                "system": spec.SPINE_ERROR_SYSTEM,
                "code": spine.code,
                "display": display,
            }]},
            "diagnostics": error.diagnostics,
        }],
    }


# The SSP's own error shape (errors.md §2 "SSP errors"), for injected 502/503/504 faults only.
SSP_RESPONSE_CODE_SYSTEM = "http://fhir.nhs.net/ValueSet/gpconnect-schedule-response-code-1-0"


def proxy_outcome(status: int, diagnostics: str, display: str | None = None) -> dict:
    """No meta.profile; the HTTP status as the code (the SSP's 502 example puts the unreachable
    URL in both display and diagnostics; so do its 400 and 403 refusals, each its own coded text)."""
    issue_type, default_display = PROXY_STATUSES[status] if status in PROXY_STATUSES else SSP_REFUSALS[status]
    display = display or default_display
    return {
        "resourceType": "OperationOutcome",
        "issue": [{
            "severity": "error",
            "code": issue_type,
            "details": {"coding": [{
                "system": SSP_RESPONSE_CODE_SYSTEM,
                "code": str(status),
                "display": display,
            }]},
            "diagnostics": diagnostics,
        }],
    }
