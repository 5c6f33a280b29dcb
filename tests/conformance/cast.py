"""Every payload the conformance check validates, fetched through the HTTP layer as a consumer gets it.

- every built-in persona's migrate-structured Bundle, ``includeSensitiveInformation`` false and true
  (the JWT's ODS set to the persona's PDS registered practice; personas answering an error are skipped);
- a documents searchset (find patient, then search documents with every ``_include``) and a Patient
  searchset, for the main documents persona;
- the Binary of one of its documents (Retrieve a document);
- Retrieve a structured record answers for every built-in persona that answers 200: a spread of queries
  (:data:`RETRIEVE_QUERIES`: each area, its filters, the predefined multi-area search, every area with an
  unrecognised parameter; a few for the large records), labelled ``<NHS number>/retrieve-<query>``.

``payloads(client, personas)`` returns ``[(label, body)]``; a label names the request, e.g.
``9690937286/standard``.
"""
from __future__ import annotations

import json
from datetime import date, timedelta
from urllib.parse import quote

from tests import helpers as h

TRACE_ID = "6d0c5b8e-3a1f-4e2b-9c7d-1f2e3d4c5b6a"
MIGRATE = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"
DOCUMENTS_PERSONA = "9690937286"
INCLUDES = [("_include", "DocumentReference:subject:Patient"), ("_include", "DocumentReference:custodian:Organization"),
            ("_include", "DocumentReference:author:Organization"),
            ("_include", "DocumentReference:author:Practitioner"),
            ("_revinclude:recurse", "PractitionerRole:practitioner")]


def structured(client, persona, sensitive: bool):
    """At the persona's home practice (the practices registry's; B82617 for all but the personas of
    the other practices); None for a practice the provider does not serve or an error answer."""
    home = h.home_migrate(client.application, persona)
    if home is None:
        return None
    url, provider_asid = home
    headers = h.migrate_headers(sensitive, ods=persona.registered_practice_ods or h.CONSUMER_ODS)
    headers["Ssp-TraceID"] = TRACE_ID
    headers["Ssp-To"] = provider_asid
    r = client.post(url, data=json.dumps(h.migrate_body(persona.nhs_number, sensitive)), headers=headers)
    return r.get_json() if r.status_code == 200 else None


def _area(name, **parts):
    return h.area(name, **parts)


def retrieve_queries(today: date) -> dict:
    """name -> the area parameters of one Retrieve a structured record request."""
    year_ago = (today - timedelta(days=365)).isoformat()
    return {
        "allergies": [_area("includeAllergies", includeResolvedAllergies=True)],
        "allergies-active": [_area("includeAllergies", includeResolvedAllergies=False)],
        "medications": [{"name": "includeMedication"}],
        "medications-since": [_area("includeMedication", includePrescriptionIssues=False,
                                    medicationSearchFromDate="2018-01-16")],
        "consultations": [{"name": "includeConsultations"}],
        "consultations-recent": [_area("includeConsultations", includeNumberOfMostRecent=2)],
        "problems": [{"name": "includeProblems"}],
        "problems-active": [_area("includeProblems", filterStatus="active")],
        "problems-inactive": [_area("includeProblems", filterStatus="inactive")],
        "immunisations": [_area("includeImmunisations", includeNotGiven=True)],
        "uncategorised": [_area("includeUncategorisedData", uncategorisedDataSearchPeriod=("2019-01-01", "2023-12-31"))],
        "investigations": [{"name": "includeInvestigations"}],
        "referrals": [_area("includeReferrals", referralSearchPeriod=("2016-01-01", None))],
        "diary": [{"name": "includeDiaryEntries"}],
        "predefined": [_area("includeConsultations", includeNumberOfMostRecent=3), {"name": "includeProblems"},
                       _area("includeAllergies", includeResolvedAllergies=True),
                       _area("includeMedication", medicationSearchFromDate=year_ago),
                       {"name": "includeImmunisations"}, {"name": "includeUncategorisedData"}],
        "everything": [_area("includeAllergies", includeResolvedAllergies=True), {"name": "includeMedication"},
                       {"name": "includeConsultations"}, {"name": "includeProblems"}, {"name": "includeImmunisations"},
                       {"name": "includeUncategorisedData"}, {"name": "includeInvestigations"},
                       {"name": "includeReferrals"}, {"name": "includeDiaryEntries"}, {"name": "includeFutureArea"}],
    }


LARGE_RECORD_QUERIES = ("problems-active", "consultations-recent", "predefined")


def retrieved(client, persona, params):
    """At the persona's home practice, like :func:`structured`; None where that practice does not offer
    Retrieve a structured record, or for an error answer."""
    home = h.home_root(client.application, persona, "retrieve_structured")
    if home is None:
        return None
    root, provider_asid = home
    headers = h.retrieve_headers()
    headers["Ssp-TraceID"] = TRACE_ID
    headers["Ssp-To"] = provider_asid
    r = client.post(root + "/Patient/$gpc.getstructuredrecord",
                    data=json.dumps(h.retrieve_body(persona.nhs_number, *params)), headers=headers)
    return r.get_json() if r.status_code == 200 else None


def documents(client, nhs=DOCUMENTS_PERSONA):
    """(Patient searchset, DocumentReference searchset, one Binary)."""
    r = client.get(f"{h.DOCUMENTS}/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs}",
                   headers=h.headers(h.FIND_PATIENT, h.claims()))
    assert r.status_code == 200, r.data[:300]
    patients = r.get_json()
    patient_id = patients["entry"][0]["resource"]["id"]
    query = "&".join(f"{k}={quote(v, safe=':/')}" for k, v in INCLUDES)
    r = client.get(f"{h.DOCUMENTS}/Patient/{patient_id}/DocumentReference?{query}",
                   headers=h.headers(h.SEARCH_DOCUMENTS, h.claims()))
    assert r.status_code == 200, r.data[:300]
    docs = r.get_json()
    url = next(e["resource"]["content"][0]["attachment"]["url"] for e in docs["entry"]
               if e["resource"]["resourceType"] == "DocumentReference"
               and e["resource"]["content"][0]["attachment"].get("url"))
    path = url.split("://", 1)[1].split("/", 1)[1]
    r = client.get("/" + path, headers=h.headers(h.RETRIEVE_DOCUMENT, h.claims()))
    assert r.status_code == 200, r.data[:300]
    return patients, docs, r.get_json()


def payloads(client, personas) -> list:
    out = []
    for persona in personas:
        for sensitive in (False, True):
            body = structured(client, persona, sensitive)
            if body is not None:
                out.append((f"{persona.nhs_number}/{'sensitive' if sensitive else 'standard'}", body))
    from mockprovider.interactions.retrieve_structured import today
    queries = retrieve_queries(today())
    for persona in personas:
        names = LARGE_RECORD_QUERIES if "large-record" in persona.tags else queries
        for name in names:
            body = retrieved(client, persona, queries[name])
            if body is not None:
                out.append((f"{persona.nhs_number}/retrieve-{name}", body))
    patients, docs, binary = documents(client)
    out += [(f"{DOCUMENTS_PERSONA}/find-patient", patients), (f"{DOCUMENTS_PERSONA}/search-documents", docs),
            (f"{DOCUMENTS_PERSONA}/binary", binary)]
    return out


# The compatibility settings that turn each seed-default reading into the profile's reading
# (README "Conformance"). Each is a start-up setting / MOCKPROVIDER_* variable.
PROFILE_READING = {
    "nhs_number_status_system": "canonical",
    "patient_general_practitioner": "profile",
}


def resources(payloads) -> tuple[list, dict]:
    """([(label, resource)] of every distinct resource, contained ones included; {label: index}).

    A resource that is byte-identical in two payloads (most of a persona's record in both modes) is
    validated once; ``index`` maps "Type/id" to the resource for each payload, for reference checks.
    """
    seen, out, indexes = set(), [], {}
    for label, body in payloads:
        inner = [e["resource"] for e in body.get("entry", [])]
        indexes[label] = {f"{r['resourceType']}/{r.get('id')}": r for r in inner}
        for r in [body, *inner]:
            key = json.dumps(r, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            out.append((label, r))
    return out, indexes
