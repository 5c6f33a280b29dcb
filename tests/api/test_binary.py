"""GET {documents root}/Binary/{id}: Migrate a document and Retrieve a document.

Rows: documents.md "Retrieve vs Migrate", errors.md §4.2-4.3, enablement.md §3-4, design.md's
decisions table. Size limits are exercised with small limits set through the run-time flags, so
nothing large is generated here; the built-in boundary personas are checked by metadata.
"""
import base64
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from fhir.resources.STU3.binary import Binary

from mockprovider.app import create_app
from mockprovider.personas import ids
from mockprovider.personas.documents import generated_sha256
from mockprovider.interactions import Call, retrieve_document
from tests import helpers as h
from tests.spec_tables import assert_outcome

BUILT_IN = Path(__file__).resolve().parents[2] / "personas"
MAIN = "9690937286"
PDF = ids.document_id(MAIN, "discharge-letter")
CONFIDENTIAL = ids.document_id(MAIN, "sexual-health-letter")
PDF_BYTES = (BUILT_IN / "files" / "discharge-letter.pdf").read_bytes()


def retrieve_headers(**claim_changes):
    return h.headers(h.RETRIEVE_DOCUMENT, h.claims(**claim_changes))


def migrate_headers(scope="patient/*.read", reason="directcare", **claim_changes):
    # The assurance suite sends directcare and patient/*.read for Migrate a document.
    return h.headers(h.MIGRATE_DOCUMENT, h.claims(reason=reason, scope=scope, **claim_changes))


def url(binary_id, root=h.DOCUMENTS):
    return f"{root}/Binary/{binary_id}"


def assert_binary(response, expected: bytes, binary_id: str, content_type: str):
    assert response.status_code == 200, response.data[:300]
    assert response.headers["Content-Type"] == "application/fhir+json;charset=utf-8"
    assert "no-store" in response.headers["Cache-Control"]
    assert response.headers["ETag"] == 'W/"1"'
    data = response.get_data()
    assert int(response.headers["Content-Length"]) == len(data)
    body = json.loads(data)
    assert list(body) == ["resourceType", "id", "meta", "contentType", "content"]
    assert body["resourceType"] == "Binary" and body["id"] == binary_id
    assert body["meta"] == {"versionId": "1"}
    assert body["contentType"] == content_type
    assert "securityContext" not in body
    assert base64.b64decode(body["content"], validate=True) == expected
    Binary.model_validate(body)
    return body


# --- success, both interactions ----------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [retrieve_headers, migrate_headers])
def test_success_round_trip(client, headers):
    assert_binary(client.get(url(PDF), headers=headers()), PDF_BYTES, PDF, "application/pdf")


def test_every_shipped_document_round_trips(client, app):
    docs = app.extensions["mockprovider"].personas.documents.by_nhs[MAIN]
    for doc in docs:
        scope = "patient/*.read conf/R"
        r = client.get(url(doc.binary_id), headers=migrate_headers(scope=scope))
        assert_binary(r, (BUILT_IN / doc.entry["file"]).read_bytes(), doc.binary_id, doc.content_type)


def test_retrieve_alternative_interaction_id_and_roots(client):
    alt = "urn:nhs:names:services:gpconnect-documents:fhir:rest:read:binary-1"
    for root in (h.DOCUMENTS, h.SINGLE, "/B82617/STU3/1/gpconnect-documents", "/B82617/STU3/1/gpconnect/documents",
                 "/https://proxy.example:443" + h.DOCUMENTS):
        r = client.get(url(PDF, root), headers=h.headers(alt, h.claims()))
        assert_binary(r, PDF_BYTES, PDF, "application/pdf")


def test_generated_document_streams_in_chunks_and_matches_its_sha256(tmp_path):
    size = 2 * 786432 + 7      # three chunks, the last one short
    seed = "stream-test"
    persona = {"nhs_number": "9990042136", "name": {"family": "Stream"}, "gender": "male", "birth_date": "1970-01-01",
               "documents": [{"key": "g", "description": "generated", "type": "419891008|Record artifact",
                              "created": "2020-01-01", "indexed": "2020-01-01T00:00:00+00:00",
                              "author": {"organization": "B82617"}, "contentType": "text/plain",
                              "generate": {"size": size, "seed": seed}, "sha256": generated_sha256(size, seed)}]}
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "9990042136.json").write_text(json.dumps(persona))
    app = create_app({"state_dir": str(tmp_path / "state"), "personas": str(tmp_path / "p")})
    client = app.test_client()
    binary_id = ids.document_id("9990042136", "g")
    r = client.get(url(binary_id), headers=retrieve_headers(), buffered=False)
    assert r.is_streamed
    pieces = list(r.response)
    assert len(pieces) == 2 + 3          # head, three base64 chunks, tail
    data = b"".join(pieces)
    assert int(r.headers["Content-Length"]) == len(data)
    content = base64.b64decode(json.loads(data)["content"])
    assert len(content) == size
    assert hashlib.sha256(content).hexdigest() == persona["documents"][0]["sha256"]


def test_reply_body_is_an_iterator(app):
    runtime = app.extensions["mockprovider"]
    from mockprovider.http.bearer import Claims
    call = Call(interaction="retrieve_document", params={"document_id": PDF}, query=[], body=b"",
                claims=Claims({}, "directcare", "patient/*.read", "N", "GPCA0001", True), trace_id="t",
                from_asid="1", flags=runtime.control.flags(), runtime=runtime, root_kind="documents",
                service_base="http://x", documents_base="http://x")
    reply = retrieve_document.handle(call)
    assert not isinstance(reply.body, (bytes, bytearray, list))
    assert iter(reply.body) is reply.body
    assert reply.content_length == len(b"".join(reply.body))
    assert reply.facts["document_id"] == PDF and reply.facts["nhs_number"] == MAIN


def test_same_document_same_bytes(client):
    a = client.get(url(PDF), headers=retrieve_headers()).get_data()
    b = client.get(url(PDF), headers=retrieve_headers()).get_data()
    assert a == b


# --- errors, both interactions -------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [retrieve_headers, migrate_headers])
def test_unknown_id_is_no_record_found(client, headers):
    assert_outcome(client.get(url("0f0f0f0f-0000-0000-0000-000000000000"), headers=headers()), "NO_RECORD_FOUND")


@pytest.mark.parametrize("headers", [retrieve_headers, migrate_headers])
def test_other_verbs_and_interactions_are_bad_request(client, headers):
    assert_outcome(client.post(url(PDF), headers={**headers(), "Content-Type": "application/fhir+json"}, data="{}"),
                   "BAD_REQUEST")
    assert_outcome(client.delete(url(PDF), headers=headers()), "BAD_REQUEST")
    assert_outcome(client.get(url(PDF), headers=h.headers(h.SEARCH_DOCUMENTS, h.claims())), "BAD_REQUEST")


# --- size limits: exactly at and one byte over, via the flags ------------------------------------------------
@pytest.mark.parametrize("flag,headers", [("retrieve_document_limit_bytes", retrieve_headers),
                                          ("migrate_document_limit_bytes", migrate_headers)])
def test_size_limit_boundaries(client, control, flag, headers):
    control.update_flags({flag: len(PDF_BYTES)})            # exactly at the limit: served
    assert_binary(client.get(url(PDF), headers=headers()), PDF_BYTES, PDF, "application/pdf")
    control.update_flags({flag: len(PDF_BYTES) - 1})        # one byte over: not found
    assert_outcome(client.get(url(PDF), headers=headers()), "NO_RECORD_FOUND")


def test_migrate_limit_zero_is_unlimited(client, control):
    control.update_flags({"migrate_document_limit_bytes": 0})
    assert_binary(client.get(url(PDF), headers=migrate_headers()), PDF_BYTES, PDF, "application/pdf")


def test_retrieve_limit_ignores_migrate_limit_and_vice_versa(client, control):
    control.update_flags({"retrieve_document_limit_bytes": 1})
    assert client.get(url(PDF), headers=migrate_headers()).status_code == 200
    control.update_flags({"retrieve_document_limit_bytes": 5242880, "migrate_document_limit_bytes": 1})
    assert client.get(url(PDF), headers=retrieve_headers()).status_code == 200


def test_built_in_boundary_documents_default_limits(client):
    """Default limits (5 MiB retrieve, 100 MiB migrate) on the built-in boundary persona.

    Over-limit answers are decided from metadata (nothing generated); at-limit answers are read
    only as far as the status and headers (the body is streamed lazily and never consumed)."""
    nhs = "9990042101"
    def check(key, headers, expect):
        r = client.get(url(ids.document_id(nhs, key)), headers=headers(), buffered=False)
        try:
            if expect == 200:
                assert r.status_code == 200
                size = {"exactly-5-mib": 5242880, "exactly-100-mib": 104857600}[key]
                head = len(json.dumps({"resourceType": "Binary", "id": ids.document_id(nhs, key),
                                       "meta": {"versionId": "1"}, "contentType": "text/plain",
                                       "content": ""}, separators=(",", ":")))
                assert int(r.headers["Content-Length"]) == head + (size + 2) // 3 * 4
            else:
                assert_outcome(r, expect)
        finally:
            r.close()
    check("exactly-5-mib", retrieve_headers, 200)
    check("one-byte-over-5-mib", retrieve_headers, "NO_RECORD_FOUND")
    check("exactly-100-mib", migrate_headers, 200)
    check("one-byte-over-100-mib", migrate_headers, "NO_RECORD_FOUND")
    check("about-250-mb", migrate_headers, "NO_RECORD_FOUND")
    check("one-byte-over-5-mib", retrieve_headers, "NO_RECORD_FOUND")


# --- enablement ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flag", ["gpconnect_enabled", "documents_enabled"])
def test_retrieve_honours_enablement(client, control, flag):
    control.update_flags({flag: False})
    body = assert_outcome(client.get(url(PDF), headers=retrieve_headers()), "ACCESS DENIED")
    assert body["issue"][0]["details"]["coding"][0]["code"] == "ACCESS DENIED"


@pytest.mark.parametrize("flag", ["gpconnect_enabled", "documents_enabled"])
def test_migrate_ignores_enablement_by_default_and_honours_on_request(client, control, flag):
    control.update_flags({flag: False})
    assert_binary(client.get(url(PDF), headers=migrate_headers()), PDF_BYTES, PDF, "application/pdf")
    control.update_flags({"migrate_document_enablement": "honour"})
    assert_outcome(client.get(url(PDF), headers=migrate_headers()), "ACCESS DENIED")


# --- confidential documents ----------------------------------------------------------------------------------
def test_retrieve_never_serves_confidential_documents(client):
    assert_outcome(client.get(url(CONFIDENTIAL), headers=retrieve_headers()), "NO_RECORD_FOUND")
    assert_outcome(client.get(url(CONFIDENTIAL), headers=retrieve_headers(scope="patient/*.read conf/R")),
                   "NO_RECORD_FOUND")


def test_migrate_confidential_needs_conf_r(client, control):
    expected = (BUILT_IN / "files" / "sexual-health-clinic-letter.txt").read_bytes()
    assert_binary(client.get(url(CONFIDENTIAL), headers=migrate_headers(scope="patient/*.read conf/R")),
                  expected, CONFIDENTIAL, "text/plain")
    for scope in ("patient/*.read conf/N", "patient/*.read"):
        assert_outcome(client.get(url(CONFIDENTIAL), headers=migrate_headers(scope=scope)), "NOT_AUTHORISED")
    control.update_flags({"migrate_document_codes": "current"})
    for scope in ("patient/*.read conf/N", "patient/*.read"):
        assert_outcome(client.get(url(CONFIDENTIAL), headers=migrate_headers(scope=scope)), "CONFLICTING_VALUES")
    # a non-confidential document needs no conf scope
    assert client.get(url(PDF), headers=migrate_headers(scope="patient/*.read conf/N")).status_code == 200


# --- registered practice (migrate) -----------------------------------------------------------------------------
def _copy_personas(tmp_path, change):
    folder = tmp_path / "personas"
    shutil.copytree(BUILT_IN, folder)
    data = json.loads((folder / f"{MAIN}.json").read_text())
    change(data)
    (folder / f"{MAIN}.json").write_text(json.dumps(data))
    app = create_app({"state_dir": str(tmp_path / "state"), "personas": str(folder)})
    return app.test_client(), app.extensions["mockprovider"].control


def test_migrate_requires_the_registered_practice(tmp_path):
    client, control = _copy_personas(tmp_path, lambda p: p["pds"].update(registered_practice_ods="A20047"))
    assert_outcome(client.get(url(PDF), headers=migrate_headers()), "NOT_AUTHORISED")
    assert client.get(url(PDF), headers=migrate_headers(ods="A20047")).status_code == 200
    control.update_flags({"migrate_document_codes": "current"})
    assert_outcome(client.get(url(PDF), headers=migrate_headers()), "NO_RELATIONSHIP")
    # Retrieve a document has no such rule
    assert client.get(url(PDF), headers=retrieve_headers()).status_code == 200


def test_migrate_consumer_ods_setting_when_no_registered_practice(tmp_path):
    app = create_app({"state_dir": str(tmp_path / "state"), "consumer_ods": "A20047"})
    client = app.test_client()
    assert_outcome(client.get(url(PDF), headers=migrate_headers()), "NOT_AUTHORISED")
    assert client.get(url(PDF), headers=migrate_headers(ods="A20047")).status_code == 200


def test_any_practice_counts_without_registered_practice_or_consumer_ods(client):
    assert client.get(url(PDF), headers=migrate_headers(ods="Z99999")).status_code == 200


# --- patient status (retrieve) ---------------------------------------------------------------------------------
@pytest.mark.parametrize("change", [lambda p: p.update(deceased="2024-01-01"), lambda p: p.update(active=False)])
def test_retrieve_deceased_or_inactive_patient(tmp_path, change):
    client, _ = _copy_personas(tmp_path, change)
    assert_outcome(client.get(url(PDF), headers=retrieve_headers()), "PATIENT_NOT_FOUND")
    assert client.get(url(PDF), headers=migrate_headers()).status_code == 200


def test_journal_records_document_facts(client, control):
    client.get(url(PDF), headers=retrieve_headers())
    entry = control.journal(1)[0]
    assert entry["interaction"] == "retrieve_document" and entry["status"] == 200
    assert entry["document_id"] == PDF and entry["nhs_number"] == MAIN
