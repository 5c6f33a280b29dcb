"""The spec's tables, transcribed independently of the code (../shared/spec/errors.md §2).

Tests compare the mock's answers with these rows, never with the code's own table.
"""
SPINE_SYSTEM = "https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1"
OO_PROFILE = "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-OperationOutcome-1"

# code: (HTTP status, issue.code, CodeSystem display)
ERRORS = {
    "INVALID_NHS_NUMBER": (400, "value", "Invalid NHS number"),
    "INVALID_IDENTIFIER_SYSTEM": (400, "value", "Invalid identifier system"),
    "PATIENT_NOT_FOUND": (404, "not-found", "Patient not found"),
    "NO_RECORD_FOUND": (404, "not-found", "No record found"),
    "NO_PATIENT_CONSENT": (403, "forbidden", "Patient has not provided consent to share data"),
    "ACCESS DENIED": (403, "forbidden", "Access has been denied to process this request"),
    "NO_RELATIONSHIP": (403, "forbidden", "No legitimate relationship exists with this patient"),
    "INVALID_RESOURCE": (422, "invalid", "Invalid validation of resource"),
    "INVALID_PARAMETER": (422, "invalid", "Invalid parameter"),
    "BAD_REQUEST": (400, "invalid", "Bad request"),
    "CONFLICTING_VALUES": (400, "invalid", "Conflicting values have been specified in different fields"),
    "NOT_IMPLEMENTED": (501, "not-supported", "Not implemented"),
    "INTERNAL_SERVER_ERROR": (500, "processing", "Unexpected internal server error"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "not-supported", "Unsupported media type"),
    "NOT_AUTHORISED": (403, "forbidden", "Not authorised"),
}


def assert_outcome(response, code):
    """Status, Spine code, display, profile, severity, one coding, FHIR headers, and a valid STU3 body."""
    from fhir.resources.STU3.operationoutcome import OperationOutcome

    status, issue_type, display = ERRORS[code]
    assert response.status_code == status, (response.status_code, response.data[:300])
    assert response.headers["Content-Type"] == "application/fhir+json;charset=utf-8"
    assert "no-store" in response.headers["Cache-Control"]
    body = response.get_json(force=True)
    assert body["resourceType"] == "OperationOutcome"
    assert body["meta"]["profile"] == [OO_PROFILE]
    assert len(body["issue"]) == 1
    issue = body["issue"][0]
    assert issue["severity"] == "error"
    assert issue["code"] == issue_type
    assert len(issue["details"]["coding"]) == 1
    coding = issue["details"]["coding"][0]
    assert coding == {"system": SPINE_SYSTEM, "code": code, "display": display}
    assert issue["diagnostics"]
    OperationOutcome.model_validate(body)
    return body
