"""Access Document: find a patient and search documents (assurance-suite.md §4 D1-D13, P1-P19).

The XML halves of P9 and P11 (XML answers compared with their JSON twins) are in tests/api/test_xml.py.
Plus enablement, placeholders, confidential documents and the full chain find -> search -> retrieve for the main persona.
"""
import base64
import json
import shutil
import uuid
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from fhir.resources.STU3.binary import Binary
from fhir.resources.STU3.bundle import Bundle

from mockprovider.app import create_app
from mockprovider.personas import ids
from tests import helpers as h
from tests.spec_tables import assert_outcome

BUILT_IN = Path(__file__).resolve().parents[2] / "personas"
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
SEARCHSET = "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-Searchset-Bundle-1"
PATIENT_PROFILE = "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Patient-1"
DOCREF_PROFILE = "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-DocumentReference-1"
MAIN, NO_DOCS, BIG = "9690937286", "9690937294", "9690937308"
SENSITIVE, DISSENT, DECEASED, INACTIVE, NOT_IN_SYSTEM = "9690938533", "9690938576", "9690938681", "9690938142", "9999999999"
REQUIRED = [("_include", "DocumentReference:subject:Patient"), ("_include", "DocumentReference:custodian:Organization"),
            ("_include", "DocumentReference:author:Organization"), ("_include", "DocumentReference:author:Practitioner"),
            ("_revinclude:recurse", "PractitionerRole:practitioner")]

# The suite's patients this module needs, written only where the built-in cast lacks them.
SUITE_PATIENTS = {
    NO_DOCS: {},
    SENSITIVE: {"pds": {"sensitive": True}},
    DISSENT: {"pds": {"dissent": True}},
    DECEASED: {"deceased": "2020-01-01"},
    INACTIVE: {"active": False},
}


@pytest.fixture
def app(tmp_path):
    """The built-in cast plus the suite's patients it lacks; client and control come from conftest."""
    folder = tmp_path / "personas"
    shutil.copytree(BUILT_IN, folder)
    for number, extra in SUITE_PATIENTS.items():
        if not (folder / f"{number}.json").exists():
            (folder / f"{number}.json").write_text(json.dumps(
                {"nhs_number": number, "name": {"family": "Suite"}, "gender": "female", "birth_date": "1970-01-01",
                 **extra}))
    return create_app({"state_dir": str(tmp_path / "state"), "personas": str(folder)})


def qs(pairs):
    return "&".join(f"{k}={quote(v, safe=':/')}" for k, v in pairs)


def find(client, query, trace=None, **header_changes):
    headers = h.headers(h.FIND_PATIENT, h.claims(), **header_changes)
    if trace:
        headers["Ssp-TraceID"] = trace
    return client.get(f"{h.DOCUMENTS}/Patient?{query}", headers=headers), headers["Ssp-TraceID"]


def find_nhs(client, nhs, **kw):
    return find(client, f"identifier={NHS_SYSTEM}|{nhs}", **kw)


def search(client, patient_id, pairs=REQUIRED, root=h.DOCUMENTS, **header_changes):
    headers = h.headers(h.SEARCH_DOCUMENTS, h.claims(), **header_changes)
    return client.get(f"{root}/Patient/{patient_id}/DocumentReference?{qs(pairs)}", headers=headers), headers["Ssp-TraceID"]


def assert_searchset(response, trace):
    assert response.status_code == 200, response.data[:400]
    assert response.headers["Content-Type"] == "application/fhir+json;charset=utf-8"
    assert "no-store" in response.headers["Cache-Control"]
    body = response.get_json()
    assert body["resourceType"] == "Bundle" and body["type"] == "searchset"
    assert body["id"] == trace
    assert body["meta"]["profile"] == [SEARCHSET]
    Bundle.model_validate(body)
    return body


def resources(body, kind=None):
    return [e["resource"] for e in body.get("entry", []) if kind is None or e["resource"]["resourceType"] == kind]


def patient_logical_id(client, nhs=MAIN):
    r, trace = find_nhs(client, nhs)
    return resources(assert_searchset(r, trace), "Patient")[0]["id"]


# --- find a patient: P1-P19 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("nhs", [MAIN, BIG, NO_DOCS])
def test_p1_p2_patient_conformance(client, nhs):
    r, trace = find_nhs(client, nhs)
    body = assert_searchset(r, trace)
    assert len(body["entry"]) == 1 and "total" not in body   # GPConnect-Searchset-Bundle-1: total max 0
    patient = body["entry"][0]["resource"]
    assert patient["resourceType"] == "Patient"
    assert patient["id"] == ids.patient_id(nhs)
    assert patient["meta"]["profile"] == [PATIENT_PROFILE] and patient["meta"]["versionId"]
    assert patient["identifier"][0]["system"] == NHS_SYSTEM and patient["identifier"][0]["value"] == nhs
    assert body["entry"][0]["fullUrl"].endswith(f"/Patient/{patient['id']}")
    assert patient["managingOrganization"]["reference"].startswith("Organization/")
    for gp in patient.get("generalPractitioner", []):
        assert gp["reference"].split("/")[0] in ("Practitioner", "Organization")


@pytest.mark.parametrize("query", [f"identifier={MAIN}", f"identifier=|{MAIN}", f"identifier={NHS_SYSTEM}|",
                                   f"identifier={NHS_SYSTEM}"])
def test_p3_p4_p8_identifier_without_system_or_value(client, query):
    assert_outcome(find(client, query)[0], "INVALID_PARAMETER")


@pytest.mark.parametrize("nhs", [NOT_IN_SYSTEM, DECEASED, SENSITIVE, INACTIVE])
def test_p5_p12_p17_p18_zero_entries(client, nhs):
    r, trace = find_nhs(client, nhs)
    body = assert_searchset(r, trace)
    assert "entry" not in body and "total" not in body


@pytest.mark.parametrize("query", ["", f"Identifier={NHS_SYSTEM}|{MAIN}", f"identifier={NHS_SYSTEM}|{MAIN}&identifier={NHS_SYSTEM}|{MAIN}",
                                   f"identifier={NHS_SYSTEM}|{MAIN}&identifier={NHS_SYSTEM}|{BIG}",
                                   f"identifier={NHS_SYSTEM}|{MAIN}&foo=bar"])
def test_p6_p7_p13_bad_request(client, query):
    assert_outcome(find(client, query)[0], "BAD_REQUEST")     # P15: no-store checked by assert_outcome


def test_p9_p10_format_parameter_wins(client):
    for where in ("before", "after"):
        q = f"identifier={NHS_SYSTEM}|{MAIN}"
        q = f"_format=application/fhir%2Bjson&{q}" if where == "before" else f"{q}&_format=application/fhir%2Bjson"
        r, trace = find(client, q, Accept="application/fhir+xml")
        assert len(resources(assert_searchset(r, trace))) == 1
    r, trace = find(client, f"identifier={NHS_SYSTEM}|{MAIN}", Accept=None)
    assert_searchset(r, trace)
    # P9: Accept XML alone -> an XML searchset (its content is compared with JSON in test_xml.py)
    r, trace = find(client, f"identifier={NHS_SYSTEM}|{MAIN}", Accept="application/fhir+xml")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/fhir+xml;charset=utf-8"
    assert f'<id value="{trace}"/>'.encode() in r.data
    assert_outcome(find(client, f"identifier={NHS_SYSTEM}|{MAIN}", Accept="text/html")[0], "UNSUPPORTED_MEDIA_TYPE")


def test_p14_caching_header_on_success(client):
    r, _ = find_nhs(client, MAIN)
    assert "no-store" in r.headers["Cache-Control"]


def test_p16_preferred_branch(client):
    patient = resources(assert_searchset(*find_nhs(client, MAIN)), "Patient")[0]
    registration = [e for e in patient["extension"]
                    if e["url"].endswith("Extension-CareConnect-GPC-RegistrationDetails-1")]
    assert any(x["url"] == "preferredBranchSurgery" for x in registration[0]["extension"])


def test_p19_dissent_is_found(client):
    body = assert_searchset(*find_nhs(client, DISSENT))
    assert len(body["entry"]) == 1 and body["entry"][0]["resource"]["id"] == ids.patient_id(DISSENT)


def test_find_invalid_system_and_nhs_number(client):
    assert_outcome(find(client, f"identifier=Invalid-System|{MAIN}")[0], "INVALID_IDENTIFIER_SYSTEM")
    assert_outcome(find(client, f"identifier={NHS_SYSTEM}|1234567891")[0], "INVALID_NHS_NUMBER")


# --- search documents: D1-D13 ----------------------------------------------------------------------------------
def test_d1_search_patient_with_documents(client):
    r, trace = search(client, patient_logical_id(client))
    body = assert_searchset(r, trace)
    refs = resources(body, "DocumentReference")
    assert len(refs) == 5 and "total" not in body          # six documents, one confidential
    for ref in refs:
        assert ref["meta"]["profile"] == [DOCREF_PROFILE]
        assert ref["subject"]["reference"] == f"Patient/{ids.patient_id(MAIN)}"
        url = ref["content"][0]["attachment"]["url"]
        assert url.startswith("http://localhost/B82617/STU3/1/gpconnect/documents/fhir/Binary/")
    included = {(r["resourceType"], r["id"]) for r in resources(body)}
    # every author and custodian reference of a listed document resolves inside the Bundle
    for ref in refs:
        for reference in [ref["custodian"]["reference"]] + [a["reference"] for a in ref["author"]]:
            assert tuple(reference.split("/")) in included
        assert ("Patient", ids.patient_id(MAIN)) in included
    assert resources(body, "PractitionerRole")[0]["practitioner"]["reference"] == \
        f"Practitioner/{resources(body, 'Practitioner')[0]['id']}"
    # matches first, then includes; entry.search is max 0 in GPConnect-Searchset-Bundle-1
    kinds = [e["resource"]["resourceType"] for e in body["entry"]]
    assert kinds[:5] == ["DocumentReference"] * 5 and "DocumentReference" not in kinds[5:]
    assert all("search" not in e for e in body["entry"])


def test_d2_patient_without_documents(client):
    r, trace = search(client, patient_logical_id(client, NO_DOCS))
    body = assert_searchset(r, trace)
    assert resources(body, "DocumentReference") == []


@pytest.mark.parametrize("pairs", [[], REQUIRED[1:], REQUIRED[:-1], REQUIRED + [("BadParameter", "BadParamValue")],
                                   REQUIRED + [("_include", "DocumentReference:foo:Bar")],
                                   REQUIRED[:-1] + [("_revinclude:recurse", "PractitionerRole:organization")],
                                   REQUIRED + [("created", "gt2020-01-01")], REQUIRED + [("created", "ge2020-13-45")],
                                   REQUIRED + [("author", "https://bad-identifier|B82617")],
                                   REQUIRED + [("author", f"{ODS_SYSTEM}|")]])
def test_d3_d5_d9_invalid_parameters(client, pairs):
    assert_outcome(search(client, patient_logical_id(client), pairs)[0], "INVALID_PARAMETER")


def test_d4_author_filter(client):
    pid = patient_logical_id(client)
    body = assert_searchset(*search(client, pid, REQUIRED + [("author", f"{ODS_SYSTEM}|B82617")]))
    keys = {ref["id"] for ref in resources(body, "DocumentReference")}
    expected = {ids.resource_id(MAIN, "DocumentReference", k)
                for k in ("referral-letter", "asthma-clinic-note", "skin-lesion-photo")}
    assert keys == expected
    body = assert_searchset(*search(client, pid, REQUIRED + [("author", f"{ODS_SYSTEM}|RR8")]))
    assert {ref["id"] for ref in resources(body, "DocumentReference")} == {
        ids.resource_id(MAIN, "DocumentReference", k) for k in ("discharge-letter", "outpatient-letter")}
    body = assert_searchset(*search(client, pid, REQUIRED + [("author", f"{ODS_SYSTEM}|A99999")]))
    assert "entry" not in body


def test_d6_d7_d8_created_filters(client):
    pid = patient_logical_id(client)
    today = date.today()
    for pairs in ([("created", f"ge{today - timedelta(days=365)}"), ("created", f"le{today}")],
                  [("created", f"le{today - timedelta(days=2)}")], [("created", f"ge{today - timedelta(days=365)}")]):
        assert_searchset(*search(client, pid, REQUIRED + pairs))
    def keys(pairs):
        body = assert_searchset(*search(client, pid, REQUIRED + pairs))
        return sorted(ref["id"] for ref in resources(body, "DocumentReference"))
    k = lambda *names: sorted(ids.resource_id(MAIN, "DocumentReference", n) for n in names)
    assert keys([("created", "ge2022-01-01")]) == k("outpatient-letter", "skin-lesion-photo")
    assert keys([("created", "le2019-12-31")]) == k("discharge-letter", "referral-letter")
    # boundaries: a bare date covers the whole day; a dateTime is exact
    assert keys([("created", "ge2019-06-24"), ("created", "le2019-06-24")]) == k("discharge-letter")
    assert keys([("created", "ge2019-06-24T09:35:00+00:00"), ("created", "le2019-06-24T09:35:00+00:00")]) == k("discharge-letter")
    assert keys([("created", "ge2019-06-24T09:35:01+00:00"), ("created", "le2019-06-30")]) == []


@pytest.mark.parametrize("patient_id", ["9999999999999", ids.patient_id(SENSITIVE), ids.patient_id(DECEASED),
                                        ids.patient_id(INACTIVE), str(uuid.uuid4())])
def test_d10_d11_unknown_or_hidden_patient(client, patient_id):
    # D11 (a just-registered temporary patient) is an id this provider does not know.
    assert_outcome(search(client, patient_id)[0], "PATIENT_NOT_FOUND")


def test_d12_d13_retrieve_first_document(client):
    body = assert_searchset(*search(client, patient_logical_id(client)))
    url = resources(body, "DocumentReference")[0]["content"][0]["attachment"]["url"]
    r = client.get(urlsplit(url).path, headers=h.headers(h.RETRIEVE_DOCUMENT, h.claims()))
    assert r.status_code == 200
    binary = r.get_json()
    assert binary["contentType"] and binary["content"] and "securityContext" not in binary
    Binary.model_validate(binary)


# --- confidential, placeholders, enablement --------------------------------------------------------------------
def test_confidential_documents_never_listed(client):
    pid = patient_logical_id(client)
    confidential = ids.resource_id(MAIN, "DocumentReference", "sexual-health-letter")
    for scope in ("patient/*.read", "patient/*.read conf/R"):
        r, trace = search(client, pid, **{"Authorization": "Bearer " + h.token(h.claims(scope=scope))})
        ids_listed = {ref["id"] for ref in resources(assert_searchset(r, trace), "DocumentReference")}
        assert confidential not in ids_listed and len(ids_listed) == 5


def test_over_the_retrieve_limit_is_a_placeholder(client):
    body = assert_searchset(*search(client, patient_logical_id(client, BIG)))
    [ref] = resources(body, "DocumentReference")
    attachment = ref["content"][0]["attachment"]
    assert "url" not in attachment and "data" not in attachment
    assert "5242880" in attachment["title"] and attachment["size"] == 6 * 1024 * 1024
    # and the Binary itself: 404 on retrieve, served by migrate (checked without reading the body)
    binary_url = f"{h.DOCUMENTS}/Binary/{ids.document_id(BIG, 'big-scanned-letter')}"
    assert_outcome(client.get(binary_url, headers=h.headers(h.RETRIEVE_DOCUMENT, h.claims())), "NO_RECORD_FOUND")


def test_placeholder_boundary_follows_the_flag(client, control):
    pid = patient_logical_id(client)
    pdf_size = (BUILT_IN / "files" / "discharge-letter.pdf").stat().st_size
    pdf_ref = ids.resource_id(MAIN, "DocumentReference", "discharge-letter")
    for limit, available in ((pdf_size, True), (pdf_size - 1, False)):
        control.update_flags({"retrieve_document_limit_bytes": limit})
        body = assert_searchset(*search(client, pid))
        attachment = next(r for r in resources(body, "DocumentReference") if r["id"] == pdf_ref)["content"][0]["attachment"]
        assert ("url" in attachment) is available
        assert ("title" in attachment) is (not available)


@pytest.mark.parametrize("flag", ["gpconnect_enabled", "documents_enabled"])
def test_enablement(client, control, flag):
    pid = patient_logical_id(client)
    control.update_flags({flag: False})
    assert_outcome(find_nhs(client, MAIN)[0], "ACCESS DENIED")
    assert_outcome(search(client, pid)[0], "ACCESS DENIED")


# --- determinism, roots, the chain ------------------------------------------------------------------------------
def test_same_request_same_bytes_but_the_trace_id(client):
    pid = patient_logical_id(client)
    a, ta = search(client, pid)
    b, tb = search(client, pid)
    assert a.data.replace(ta.encode(), b"T") == b.data.replace(tb.encode(), b"T")
    trace = str(uuid.uuid4())
    assert find_nhs(client, MAIN, trace=trace)[0].data == find_nhs(client, MAIN, trace=trace)[0].data


def test_many_documents_persona(client):
    body = assert_searchset(*search(client, patient_logical_id(client, "9990042128")))
    assert len(resources(body, "DocumentReference")) == 150


def test_full_chain_find_search_retrieve(client):
    """find -> search -> follow every attachment.url verbatim (behind the SSP prefix too) -> retrieve."""
    for root in (h.DOCUMENTS, h.SINGLE):
        r, trace = find(client, f"identifier={NHS_SYSTEM}|{MAIN}")
        pid = resources(assert_searchset(r, trace), "Patient")[0]["id"]
        body = assert_searchset(*search(client, pid, root=root))
        refs = resources(body, "DocumentReference")
        assert len(refs) == 5
        files = {ids.document_id(MAIN, d["key"]): d["file"]
                 for d in json.loads((BUILT_IN / f"{MAIN}.json").read_text())["documents"]}
        for ref in refs:
            attachment = ref["content"][0]["attachment"]
            url = urlsplit(attachment["url"])
            assert url.path.startswith(root + "/Binary/")
            for path in (url.path, f"/https://{url.netloc}{url.path}"):
                got = client.get(path, headers=h.headers(h.RETRIEVE_DOCUMENT, h.claims()))
                assert got.status_code == 200
                binary = got.get_json()
                content = base64.b64decode(binary["content"])
                assert content == (BUILT_IN / files[binary["id"]]).read_bytes()
                assert len(content) == attachment["size"] and binary["contentType"] == attachment["contentType"]


def test_capability_statement_lists_what_is_served(client):
    r = client.get(h.DOCUMENTS + "/metadata", headers=h.headers(h.METADATA_DOCUMENTS, h.claims(scope="organization/*.read")))
    assert r.status_code == 200
    resources_ = {res["type"]: res for res in r.get_json()["rest"][0]["resource"]}
    assert set(resources_) == {"Patient", "DocumentReference", "Binary"}
    assert {i["code"] for i in resources_["Binary"]["interaction"]} == {"read"}
    assert {i["code"] for i in resources_["Patient"]["interaction"]} == {"read", "search-type"}
    assert [p["name"] for p in resources_["Patient"]["searchParam"]] == ["identifier"]
    doc = resources_["DocumentReference"]
    assert {i["code"] for i in doc["interaction"]} == {"search-type"}
    assert set(doc["searchInclude"]) == {v for k, v in REQUIRED if k == "_include"}
    assert doc["searchRevInclude"] == ["PractitionerRole:practitioner"]
    assert {p["name"] for p in doc["searchParam"]} == {"created", "author"}


def test_journal_records_search_facts(client, control):
    find_nhs(client, MAIN)
    entry = control.journal(1)[0]
    assert entry["interaction"] == "find_patient" and entry["nhs_number"] == MAIN and entry["status"] == 200


@pytest.mark.parametrize("interaction", ["find_patient", "search_documents"])
def test_fault_rules_apply_to_the_searches(client, control, interaction):
    pid = patient_logical_id(client)
    r = client.post("/_control/faults", json={"kind": "error", "code": "NO_RECORD_FOUND", "times": 1,
                                               "match": {"interaction": interaction}})
    assert r.status_code in (200, 201), r.data
    call = (lambda: find_nhs(client, MAIN)[0]) if interaction == "find_patient" else (lambda: search(client, pid)[0])
    assert_outcome(call(), "NO_RECORD_FOUND")
    assert call().status_code == 200          # the rule expired after one use
    entries = [e for e in control.journal(5) if e["interaction"] == interaction]
    assert entries[0]["status"] == 200 and entries[1]["status"] == 404 and entries[1].get("fault")
