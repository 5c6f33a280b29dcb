"""The requests ``make bench`` sends, exactly as a consumer sends them.

Every request carries the ``Ssp-*`` headers and an unsigned JWT made fresh (exp = iat + 300 s);
``Ssp-TraceID`` is a fixed UUID per wrk thread, so the baseline can hold the Bundle for each and a
request is static, as wrk needs. ``X-Bench-Case`` picks the baseline's answer (the product
ignores it).
"""
from __future__ import annotations

import base64
import http.client
import json
import time
import uuid
from dataclasses import dataclass, field

ODS = "B82617"
PROVIDER_ASID = "918999198738"
CONSUMER_ASID = "200000000359"
CONSUMER_ODS = "GPCA0001"
STRUCTURED = f"/{ODS}/STU3/1/gpconnect/structured/fhir"
METADATA_STRUCTURED = "urn:nhs:names:services:gpconnect:structured:fhir:rest:read:metadata-1"
MIGRATE_STRUCTURED = "urn:nhs:names:services:gpconnect:fhir:operation:gpc.migratestructuredrecord-1"
MIGRATE_DOCUMENT = "urn:nhs:names:services:gpconnect:documents:fhir:rest:migrate:binary-1"
RETRIEVE_DOCUMENT = "urn:nhs:names:services:gpconnect:documents:fhir:rest:read:binary-1"
TYPICAL_PERSONA = "9690937286"       # the assurance suite's main data patient


def b64url(obj) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt(reason="directcare", scope="patient/*.read", ods=CONSUMER_ODS) -> str:
    """An unsigned JWT valid from now for exp - iat = 300 s: make a fresh one per scenario."""
    iat = int(time.time()) - 1
    payload = {
        "iss": "https://consumer.example", "sub": "1", "aud": "https://provider.example/B82617/STU3/1",
        "exp": iat + 300, "iat": iat, "reason_for_request": reason, "requested_scope": scope,
        "requesting_device": {"resourceType": "Device", "identifier": [{"system": "https://consumer.example/device",
                                                                      "value": "bench"}],
                              "model": "wrk", "version": "1"},
        "requesting_organization": {"resourceType": "Organization", "name": "Bench Practice",
                                    "identifier": [{"system": "https://fhir.nhs.uk/Id/ods-organization-code",
                                                    "value": ods}]},
        "requesting_practitioner": {"resourceType": "Practitioner", "id": "1",
                                    "name": [{"family": "Bench", "given": ["Load"], "prefix": ["Dr"]}],
                                    "identifier": [{"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": "UNK"},
                                                   {"system": "https://fhir.nhs.uk/Id/sds-role-profile-id",
                                                    "value": "UNK"}]},
    }
    return f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(payload)}."


@dataclass
class Case:
    """One request shape, sent identically (same path, headers, body) to product and baseline."""
    name: str
    method: str
    path: str
    interaction: str
    reason: str = "directcare"
    scope: str = "patient/*.read"
    ods: str = CONSUMER_ODS
    body: bytes | None = None
    overrides: dict = field(default_factory=dict)
    expect: int = 200

    def headers(self, trace_id: str | None = None) -> dict:
        h = {
            "Ssp-TraceID": trace_id or str(uuid.uuid4()),
            "Ssp-From": CONSUMER_ASID,
            "Ssp-To": PROVIDER_ASID,
            "Ssp-InteractionID": self.interaction,
            "Authorization": "Bearer " + jwt(self.reason, self.scope, self.ods),
            "Accept": "application/fhir+json",
            "X-Bench-Case": self.name,       # ignored by the product; picks the baseline's answer
        }
        if self.body is not None:
            h["Content-Type"] = "application/fhir+json;charset=utf-8"
        h.update(self.overrides)
        return h


def metadata_case(name="metadata", **overrides) -> Case:
    return Case(name, "GET", STRUCTURED + "/metadata", METADATA_STRUCTURED, scope="organization/*.read",
                overrides=overrides, expect=200 if not overrides else 400)


def migrate_body(nhs: str) -> bytes:
    return json.dumps({"resourceType": "Parameters", "parameter": [
        {"name": "patientNHSNumber", "valueIdentifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}},
        {"name": "includeFullRecord", "part": [{"name": "includeSensitiveInformation", "valueBoolean": False}]},
    ]}).encode()


def migrate_case(name: str, nhs: str, ods: str) -> Case:
    return Case(name, "POST", STRUCTURED + "/Patient/$gpc.migratestructuredrecord", MIGRATE_STRUCTURED,
                reason="migration", scope="patient/*.read conf/N", ods=ods, body=migrate_body(nhs))


RETRIEVE_STRUCTURED = "urn:nhs:names:services:gpconnect:fhir:operation:gpc.getstructuredrecord-1"


def retrieve_body(nhs: str) -> bytes:
    """A typical direct-care query: allergies (resolved ones too), medication and problems."""
    return json.dumps({"resourceType": "Parameters", "parameter": [
        {"name": "patientNHSNumber", "valueIdentifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}},
        {"name": "includeAllergies", "part": [{"name": "includeResolvedAllergies", "valueBoolean": True}]},
        {"name": "includeMedication"},
        {"name": "includeProblems"},
    ]}).encode()


def retrieve_case(name: str, nhs: str, ods: str) -> Case:
    """Retrieve a structured record: direct care, ``patient/*.read`` (the retrieve page's JWT)."""
    return Case(name, "POST", STRUCTURED + "/Patient/$gpc.getstructuredrecord", RETRIEVE_STRUCTURED,
                ods=ods, body=retrieve_body(nhs))


def binary_case(name: str, path: str, interaction: str, ods: str) -> Case:
    """A Binary GET: migrate a document (migration, conf/R) or retrieve a document (direct care)."""
    if interaction == MIGRATE_DOCUMENT:
        return Case(name, "GET", path, interaction, reason="migration", scope="patient/*.read conf/R", ods=ods)
    return Case(name, "GET", path, interaction, ods=ods)


def trace_ids(case: str, count: int) -> list[str]:
    """Fixed Ssp-TraceIDs, one per wrk thread (deterministic, so the baseline can precompute)."""
    return [str(uuid.uuid5(uuid.NAMESPACE_URL, f"mockprovider-bench/{case}/{n}")) for n in range(count)]


def request(port, case: Case, trace_id=None, timeout=60.0):
    """One request over a new connection: (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(case.method, case.path, body=case.body, headers=case.headers(trace_id))
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()
