"""Request builders for tests: headers and unsigned JWTs exactly as the spec describes them."""
from __future__ import annotations

import base64
import json
import time
import uuid

ODS = "B82617"
PROVIDER_ASID = "918999198738"
CONSUMER_ASID = "200000000359"
CONSUMER_ODS = "GPCA0001"
STRUCTURED = f"/{ODS}/STU3/1/gpconnect/structured/fhir"
DOCUMENTS = f"/{ODS}/STU3/1/gpconnect/documents/fhir"
SINGLE = f"/{ODS}/STU3/1/gpconnect/fhir"

MIGRATE_STRUCTURED = "urn:nhs:names:services:gpconnect:fhir:operation:gpc.migratestructuredrecord-1"
MIGRATE_DOCUMENT = "urn:nhs:names:services:gpconnect:documents:fhir:rest:migrate:binary-1"
RETRIEVE_DOCUMENT = "urn:nhs:names:services:gpconnect:documents:fhir:rest:read:binary-1"
METADATA_STRUCTURED = "urn:nhs:names:services:gpconnect:structured:fhir:rest:read:metadata-1"
METADATA_DOCUMENTS = "urn:nhs:names:services:gpconnect:documents:fhir:rest:read:metadata-1"
FIND_PATIENT = "urn:nhs:names:services:gpconnect:documents:fhir:rest:search:patient-1"
SEARCH_DOCUMENTS = "urn:nhs:names:services:gpconnect:documents:fhir:rest:search:documentreference-1"


def b64url(obj) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(reason="directcare", scope="patient/*.read", ods=CONSUMER_ODS, now=None, **changes) -> dict:
    """The assurance suite's default claims (assurance-suite.md §1); changes override or drop (None)."""
    iat = int(now if now is not None else time.time()) - 2
    payload = {
        "iss": "https://ConsumerSystemURL",
        "sub": "1",
        "aud": "https://authorize.fhir.nhs.net/token/",
        "exp": iat + 300,
        "iat": iat,
        "reason_for_request": reason,
        "requested_scope": scope,
        "requesting_device": {
            "resourceType": "Device",
            "identifier": [{"system": "GPConnectTestSystem", "value": "Client"}],
            "model": "v1", "version": "1.1",
        },
        "requesting_organization": {
            "resourceType": "Organization", "name": "GP Connect Assurance",
            "identifier": [{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": ods}],
        },
        "requesting_practitioner": {
            "resourceType": "Practitioner", "id": "1",
            "name": [{"family": "AssurancePractitioner", "given": ["AssuranceTest"], "prefix": ["Mr"]}],
            "identifier": [
                {"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": "GCASDS0001"},
                {"system": "https://fhir.nhs.uk/Id/sds-role-profile-id", "value": "112233445566"},
                {"system": "https://consumersupplier.com/Id/user-guid", "value": "98ed4f78-814d-4266-8d5b-cde742f3093c"},
            ],
        },
    }
    for key, value in changes.items():
        if value is None:
            payload.pop(key, None)
        else:
            payload[key] = value
    return payload


def token(payload: dict, header=None) -> str:
    return f"{b64url(header or {'alg': 'none', 'typ': 'JWT'})}.{b64url(payload)}."


def headers(interaction: str, payload: dict | None = None, **changes) -> dict:
    """Every header a consumer must send; changes override, None drops one."""
    h = {
        "Ssp-TraceID": str(uuid.uuid4()),
        "Ssp-From": CONSUMER_ASID,
        "Ssp-To": PROVIDER_ASID,
        "Ssp-InteractionID": interaction,
        "Authorization": "Bearer " + token(payload if payload is not None else claims()),
        "Accept": "application/fhir+json",
    }
    for key, value in changes.items():
        key = key.replace("_", "-")
        if value is None:
            h.pop(key, None)
        else:
            h[key] = value
    return h


def metadata_headers(**changes):
    return headers(METADATA_STRUCTURED, claims(scope="organization/*.read"), **changes)


def migrate_body(nhs="9690937286", sensitive=False, extra=None) -> dict:
    params = [
        {"name": "patientNHSNumber",
         "valueIdentifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}},
        {"name": "includeFullRecord",
         "part": [{"name": "includeSensitiveInformation", "valueBoolean": sensitive}]},
    ]
    return {"resourceType": "Parameters", "parameter": params + list(extra or [])}


def migrate_headers(sensitive=False, **claim_changes):
    scope = "patient/*.read conf/R" if sensitive else "patient/*.read conf/N"
    merged = {"reason": "migration", "scope": scope, **claim_changes}
    return headers(MIGRATE_STRUCTURED, claims(**merged), **{"Content-Type": "application/fhir+json;charset=utf-8"})


def home_root(app, persona, interaction: str) -> tuple[str, str] | None:
    """(the URL of ``interaction``'s root on the persona's home practice's published roots, that practice's
    ASID), from the app's practices registry; None when the practice does not offer it (or is not served)."""
    practice = app.extensions["mockprovider"].practices.home_of(persona)
    if not practice.served or interaction not in practice.roots:
        return None
    return f"/{practice.ods}/STU3/1/{practice.roots[interaction]}", practice.asid


def home_migrate(app, persona) -> tuple[str, str] | None:
    """(the migrate URL on the persona's home practice's published root, that practice's ASID), from the
    app's practices registry; None when the provider does not serve the practice (not on GP Connect)."""
    practice = app.extensions["mockprovider"].practices.home_of(persona)
    if not practice.served or "migrate_structured" not in practice.roots:
        return None
    return f"/{practice.ods}/STU3/1/{practice.roots['migrate_structured']}/Patient/$gpc.migratestructuredrecord", \
        practice.asid


# --- Retrieve a structured record ($gpc.getstructuredrecord) ------------------------------------------
RETRIEVE_STRUCTURED = "urn:nhs:names:services:gpconnect:fhir:operation:gpc.getstructuredrecord-1"
RETRIEVE_URL = STRUCTURED + "/Patient/$gpc.getstructuredrecord"


def retrieve_headers(**claim_changes):
    """A retrieve request's headers: directcare, patient/*.read (the suite's defaults)."""
    return headers(RETRIEVE_STRUCTURED, claims(**claim_changes),
                   **{"Content-Type": "application/fhir+json;charset=utf-8"})


def nhs_param(nhs="9690937286", system="https://fhir.nhs.uk/Id/nhs-number") -> dict:
    return {"name": "patientNHSNumber", "valueIdentifier": {"system": system, "value": nhs}}


def area(name: str, **parts) -> dict:
    """A clinical-area parameter with its parts (a Python value -> value[x] by type: bool -> Boolean,
    int -> PositiveInt, (start, end) -> Period, "YYYY-MM-DD" for a *Date part -> Date, else Code)."""
    param = {"name": name}
    out = []
    for part, value in parts.items():
        if isinstance(value, bool):
            out.append({"name": part, "valueBoolean": value})
        elif isinstance(value, int):
            out.append({"name": part, "valuePositiveInt": value})
        elif isinstance(value, tuple):
            period = {k: v for k, v in zip(("start", "end"), value) if v is not None}
            out.append({"name": part, "valuePeriod": period})
        elif part.endswith("Date"):
            out.append({"name": part, "valueDate": value})
        else:
            out.append({"name": part, "valueCode": value})
    if out:
        param["part"] = out
    return param


def retrieve_body(nhs="9690937286", *params, nhs_parameter=True) -> dict:
    return {"resourceType": "Parameters",
            "parameter": ([nhs_param(nhs)] if nhs_parameter else []) + list(params)}
