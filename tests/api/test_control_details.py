"""The control endpoints the console is built on: the catalogue of flags and fault kinds, a
persona's detail and its migrate Bundle, journal filters, and the console page's token guard."""
import base64
import json

import pytest

from mockprovider.app import create_app
from mockprovider.config import RUNTIME_FLAGS
from mockprovider.state.faults import KINDS, MATCH_FIELDS
from mockprovider.errors import TABLE
from tests import helpers as h

MIGRATE = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"


def test_the_catalogue_describes_every_flag_and_fault_kind(client):
    client.patch("/_control/flags", json={"validation": "lenient"})
    body = client.get("/_control/catalogue").get_json()
    flags = {f["name"]: f for f in body["flags"]}
    assert set(flags) == set(RUNTIME_FLAGS)
    assert all(f["doc"] for f in flags.values())
    assert flags["validation"] == {**flags["validation"], "type": "choice", "choices": ["strict", "lenient"],
                                   "default": "strict", "value": "lenient"}
    assert flags["gpconnect_enabled"]["type"] == "boolean"
    assert flags["retrieve_document_limit_bytes"]["type"] == "integer"
    faults = body["faults"]
    assert [k["kind"] for k in faults["kinds"]] == list(KINDS)
    assert [m["name"] for m in faults["match_fields"]] == list(MATCH_FIELDS)
    assert {c["code"] for c in faults["spine_codes"]} == set(TABLE)
    assert {p["status"] for p in faults["proxy_statuses"]} == {502, 503, 504}
    settings = {s["name"]: s for s in body["settings"]}
    assert settings["ods_code"]["value"] == h.ODS and settings["ods_code"]["env"] == "MOCKPROVIDER_ODS_CODE"


def test_persona_detail_has_tags_rules_and_documents_with_urls(client):
    body = client.get("/_control/personas/9690937286").get_json()
    assert body["nhs_number"] == "9690937286" and body["name"] == "Mrs Jane Anne Jackson"
    assert "full-record" in body["tags"] and body["description"]
    assert "conf/N + includeSensitiveInformation=true → 400 CONFLICTING_VALUES" in body["rules"]
    docs = body["documents"]
    assert len(docs) == 6 and all(d["size"] > 0 for d in docs)
    confidential = [d for d in docs if d["confidential"]]
    assert len(confidential) == 1 and not confidential[0]["retrievable"]
    # The URL is the one the DocumentReference carries, and a consumer can follow it.
    open_doc = next(d for d in docs if not d["confidential"])
    assert open_doc["url"] == f"http://localhost{h.DOCUMENTS}/Binary/{open_doc['binary_id']}"
    r = client.get(open_doc["url"], headers=h.headers(h.RETRIEVE_DOCUMENT))
    assert r.status_code == 200
    assert base64.b64decode(r.get_json()["content"]) and len(base64.b64decode(r.get_json()["content"])) == open_doc["size"]


def test_persona_detail_rules_follow_cast_toml_and_a_persona_without_an_entry_has_none(tmp_path):
    folder = tmp_path / "personas"
    folder.mkdir()
    persona = {"nhs_number": "9990000018", "name": {"family": "Smith"}, "gender": "male", "birth_date": "1960-01-01"}
    (folder / "9990000018.json").write_text(json.dumps(persona))
    client = create_app({"state_dir": str(tmp_path / "state"), "personas": str(folder)}).test_client()
    body = client.get("/_control/personas/9990000018").get_json()
    assert body["rules"] == [] and body["exercises"] is None and body["documents"] == []


@pytest.mark.parametrize("sensitive,allergies", [("true", 2), ("false", 1)])
def test_persona_record_is_the_migrate_bundle(client, sensitive, allergies):
    """9690938118 has one confidential allergy: left out without sensitive information."""
    r = client.get(f"/_control/personas/9690938118/record?sensitive={sensitive}")
    assert r.status_code == 200 and r.mimetype == "application/fhir+json"
    bundle = r.get_json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("AllergyIntolerance") == allergies
    # The same bytes a migrate request gets, but for Bundle.id (mark_confidential=false: without the
    # confidentiality markers the export adds for the round trip, issue #28).
    trace = "5a6b1c0e-8f1d-4d3e-9c1a-0b2c3d4e5f60"
    headers = {**h.migrate_headers(sensitive == "true"), "Ssp-TraceID": trace}
    migrated = client.post(MIGRATE, json=h.migrate_body("9690938118", sensitive == "true"), headers=headers)
    assert migrated.status_code == 200
    ours = client.get(f"/_control/personas/9690938118/record?sensitive={sensitive}&trace_id={trace}"
                      "&mark_confidential=false")
    assert ours.data == migrated.data


def test_the_export_marks_what_a_non_sensitive_migrate_leaves_out(client):
    """With sensitive items, the confidential allergy carries the HL7 Confidentiality R marker the
    import recognises; nothing else changes (issue #28)."""
    marked = client.get("/_control/personas/9690938118/record?sensitive=true").get_json()
    plain = client.get("/_control/personas/9690938118/record?sensitive=true&mark_confidential=false").get_json()
    changed = [(a["resource"], b["resource"]) for a, b in zip(marked["entry"], plain["entry"]) if a != b]
    assert len(changed) == 1
    ours, theirs = changed[0]
    assert ours["resourceType"] == "AllergyIntolerance"
    assert ours["meta"]["security"] == [{"system": "http://hl7.org/fhir/v3/Confidentiality", "code": "R",
                                         "display": "restricted"}]
    assert {**ours, "meta": theirs["meta"]} == theirs
    assert client.get("/_control/personas/9690938118/record?sensitive=false").get_json()["entry"] == \
        client.get("/_control/personas/9690938118/record?sensitive=false&mark_confidential=false").get_json()["entry"]


@pytest.mark.parametrize("path,status,field", [
    ("/_control/personas/123", 400, "nhs_number"),
    ("/_control/personas/9999999999", 404, "nhs_number"),
    ("/_control/personas/9999999999/record", 404, "nhs_number"),
    ("/_control/personas/9690937286/record?sensitive=maybe", 400, "sensitive"),
    ("/_control/personas/9690937286/record?trace_id=x", 400, "trace_id"),
])
def test_persona_errors_name_the_field(client, path, status, field):
    r = client.get(path)
    assert r.status_code == status and r.get_json()["field"] == field


def test_journal_filters(client):
    ok = h.migrate_headers()
    client.post(MIGRATE, json=h.migrate_body("9690937286"), headers=ok)
    client.post(MIGRATE, json=h.migrate_body("9999999999"), headers=h.migrate_headers())
    client.get(h.STRUCTURED + "/metadata", headers=h.metadata_headers())
    every = client.get("/_control/requests").get_json()
    assert len(every) == 3
    by_trace = client.get(f"/_control/requests?trace_id={ok['Ssp-TraceID'].upper()}").get_json()
    assert [r["trace_id"] for r in by_trace] == [ok["Ssp-TraceID"]]
    assert [r["status"] for r in client.get("/_control/requests?status=4xx").get_json()] == [404]
    assert [r["status"] for r in client.get("/_control/requests?status=200").get_json()] == [200, 200]
    migrate = client.get("/_control/requests?interaction=migrate_structured&limit=1").get_json()
    assert len(migrate) == 1 and migrate[0]["status"] == 404          # newest first
    assert client.get("/_control/requests?status=none").get_json() == []
    bad = client.get("/_control/requests?status=40")
    assert bad.status_code == 400 and bad.get_json()["field"] == "status"


def test_console_and_details_need_the_token_when_set(tmp_path):
    app = create_app({"state_dir": str(tmp_path / "state"), "control_token": "s3cret"})
    client = app.test_client()
    for path in ("/_console", "/_console/console.js"):
        r = client.get(path)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic ")
        basic = base64.b64encode(b"anyone:s3cret").decode()
        assert client.get(path, headers={"Authorization": f"Basic {basic}"}).status_code == 200
        assert client.get(path, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        wrong = base64.b64encode(b"anyone:nope").decode()
        assert client.get(path, headers={"Authorization": f"Basic {wrong}"}).status_code == 401
    page = client.get("/_console", headers={"Authorization": "Bearer s3cret"}).get_data(as_text=True)
    assert '<meta name="mockprovider-control-token" content="s3cret">' in page
    for path in ("/_control/catalogue", "/_control/personas/9690937286", "/_control/personas/9690937286/record"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    # Basic credentials never open the control API itself (only Bearer does).
    basic = base64.b64encode(b"anyone:s3cret").decode()
    assert client.get("/_control/flags", headers={"Authorization": f"Basic {basic}"}).status_code == 401


def test_console_page_is_self_contained(client):
    r = client.get("/_console")
    assert r.status_code == 200 and r.mimetype == "text/html"
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    page = r.get_data(as_text=True)
    assert "http://" not in page and "https://" not in page       # nothing fetched from elsewhere
    assert 'content=""' in page                                    # no token: none in the page
    for asset in ("console.js", "console.css"):
        served = client.get(f"/_console/{asset}")
        assert served.status_code == 200 and b"https://" not in served.data.replace(b"https://fhir.nhs.uk", b"")
    assert client.get("/_console/nothing.js").status_code == 404


def test_persona_record_follows_the_live_flags_that_change_bytes(client):
    client.patch("/_control/flags", json={"nhs_number_status_system": "canonical",
                                          "patient_general_practitioner": "profile"})
    trace = "5a6b1c0e-8f1d-4d3e-9c1a-0b2c3d4e5f61"
    headers = {**h.migrate_headers(), "Ssp-TraceID": trace}
    migrated = client.post(MIGRATE, json=h.migrate_body("9690937286"), headers=headers)
    ours = client.get(f"/_control/personas/9690937286/record?sensitive=false&trace_id={trace}")
    assert migrated.status_code == ours.status_code == 200
    assert ours.data == migrated.data                 # byte for byte
    default = client.get(f"/_control/personas/9690937286/record?sensitive=false&trace_id={trace}")
    client.post("/_control/reset")
    assert client.get(f"/_control/personas/9690937286/record?sensitive=false&trace_id={trace}").data != default.data
