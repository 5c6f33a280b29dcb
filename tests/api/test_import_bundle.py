"""`mockprovider personas import`: a structured Bundle becomes a persona served as it came.

The Bundle imported here is a real GP Connect structured record: the migrate answer for the
assurance suite's main data patient (with its confidential items and documents), as a consumer
would have captured it. Round trip: import it under another NHS number, serve it, and compare what
comes back with what went in, resource by resource, allowing only the documented rewrites
(personas/README.md "Imported Bundles"): Bundle.id, the Patient's NHS number, attachment urls.
"""
from __future__ import annotations

import base64
import json
import shutil
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from mockprovider.app import create_app
from mockprovider.cli import cli
from mockprovider.config import Settings
from mockprovider.personas.bundle_import import BundleImportError, import_bundle, write_imported
from mockprovider.personas.store import PersonaError, PersonaStore
from tests import helpers as h
from tests.structured_checks import CONFIDENTIAL_NOTE, WARNING_EXT, check_bundle, lists_by_title

URL = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"
SOURCE = "9690937286"            # the assurance suite's main data patient: documents, confidential items
NEW_NHS = "9990042136"           # a free test number (valid Mod-11)
CAST = Path(Settings().personas)
CONFIDENTIALITY = "http://hl7.org/fhir/v3/Confidentiality"


def migrate(client, nhs, sensitive):
    return client.post(URL, data=json.dumps(h.migrate_body(nhs, sensitive)), headers=h.migrate_headers(sensitive))


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
    """What a consumer captured from a provider: the migrate Bundle with sensitive items, whose
    confidential resources carry the HL7 Confidentiality "R" marker (as a supplier marks them)."""
    app = create_app({"state_dir": str(tmp_path_factory.mktemp("state"))})
    client = app.test_client()
    full = migrate(client, SOURCE, True).get_json()
    without = migrate(client, SOURCE, False).get_json()
    kept = {(e["resource"]["resourceType"], e["resource"].get("id")) for e in without["entry"]}
    marked = 0
    for entry in full["entry"]:
        r = entry["resource"]
        if r["resourceType"] != "List" and (r["resourceType"], r.get("id")) not in kept:
            r.setdefault("meta", {}).setdefault("security", []).append(
                {"system": CONFIDENTIALITY, "code": "R", "display": "restricted"})
            marked += 1
    assert marked, "the source persona has confidential items"
    return full


@pytest.fixture
def imported(tmp_path, captured):
    """The captured Bundle imported into a copy of the built-in cast."""
    cast = tmp_path / "personas"
    shutil.copytree(CAST, cast)
    bundle_file = tmp_path / "fixture.json"
    bundle_file.write_text(json.dumps(captured))
    result = CliRunner().invoke(cli, ["personas", "import", str(bundle_file), "--nhs-number", NEW_NHS,
                                      "--out", str(cast)])
    assert result.exit_code == 0, result.output
    app = create_app({"state_dir": str(tmp_path / "state"), "personas": str(cast)})
    return app, app.test_client(), cast


def by_key(bundle):
    return {(e["resource"]["resourceType"], e["resource"].get("id"), json.dumps(e["resource"].get("code"))):
            e["resource"] for e in bundle["entry"]}


def test_import_round_trips_every_resource_but_the_documented_rewrites(imported, captured):
    _, client, _ = imported
    response = migrate(client, NEW_NHS, True)
    assert response.status_code == 200
    served = response.get_json()
    assert served["meta"] == captured["meta"] and served["type"] == "collection"
    assert len(served["entry"]) == len(captured["entry"])
    rewritten_urls = 0
    for sent, came in zip(captured["entry"], served["entry"]):
        a, b = json.loads(json.dumps(sent["resource"])), json.loads(json.dumps(came["resource"]))
        if a["resourceType"] == "Patient":
            nhs = [i for i in b["identifier"] if i["system"] == "https://fhir.nhs.uk/Id/nhs-number"]
            assert nhs[0]["value"] == NEW_NHS                                   # rewrite: --nhs-number
            for i in a["identifier"] + b["identifier"]:
                if i["system"] == "https://fhir.nhs.uk/Id/nhs-number":
                    i["value"] = "*"
        if a["resourceType"] == "DocumentReference":
            for ca, cb in zip(a["content"], b["content"]):
                if "url" in ca["attachment"]:
                    assert "/Binary/" in cb["attachment"]["url"]                 # rewrite: this mock's Binary
                    ca["attachment"]["url"] = cb["attachment"]["url"] = "*"
                    rewritten_urls += 1
        assert a == b, f"{a['resourceType']}/{a.get('id')} changed in the round trip"
    assert rewritten_urls >= 1


def test_served_bundle_id_is_the_trace_id(imported):
    _, client, _ = imported
    headers = h.migrate_headers(True)
    trace = str(uuid.uuid4())
    headers["Ssp-TraceID"] = trace
    body = client.post(URL, data=json.dumps(h.migrate_body(NEW_NHS, True)), headers=headers).get_json()
    assert body["id"] == trace


@pytest.mark.parametrize("interaction", [h.MIGRATE_DOCUMENT])
def test_each_rewritten_url_leads_to_a_binary_of_the_declared_size(imported, interaction):
    _, client, _ = imported
    served = migrate(client, NEW_NHS, True).get_json()
    refs = [e["resource"] for e in served["entry"] if e["resource"]["resourceType"] == "DocumentReference"]
    followed = 0
    for ref in refs:
        for content in ref["content"]:
            att = content["attachment"]
            if "url" not in att:
                continue
            path = att["url"].split("://", 1)[1].split("/", 1)[1]
            got = client.get("/" + path, headers=h.headers(interaction, h.claims(
                reason="migration", scope="patient/*.read conf/R")))
            assert got.status_code == 200, got.get_data(as_text=True)[:300]
            binary = got.get_json()
            assert binary["resourceType"] == "Binary" and binary["contentType"] == att["contentType"]
            assert len(base64.b64decode(binary["content"])) == att["size"]
            followed += 1
    assert followed >= 1


def test_confidential_markers_are_honoured_without_sensitive_information(imported, captured):
    _, client, _ = imported
    served = migrate(client, NEW_NHS, False).get_json()
    marked = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in captured["entry"]
              if any(s.get("system") == CONFIDENTIALITY for s in e["resource"].get("meta", {}).get("security", []))}
    present = {(e["resource"]["resourceType"], e["resource"].get("id")) for e in served["entry"]}
    assert not marked & present
    lists = lists_by_title(served)
    # The assurance suite's checks (M1) hold for the imported record too.
    for title in ("Medications and medical devices", "Uncategorised data"):
        lst = lists[title]
        warnings = [x for x in lst.get("extension", []) if x["url"] == WARNING_EXT]
        assert [w["valueCode"] for w in warnings] == ["confidential-items"], title
        assert [n["text"] for n in lst["note"]].count(CONFIDENTIAL_NOTE) == 1, title
    check_bundle(served, served["id"])


def test_documents_given_by_id_or_title_are_served_byte_for_byte(tmp_path, captured):
    refs = [e["resource"] for e in captured["entry"] if e["resource"]["resourceType"] == "DocumentReference"]
    docs = tmp_path / "docs"
    docs.mkdir()
    first = refs[0]
    (docs / f"{first['id']}.txt").write_bytes("Letter with ünïcödé — day 1\n".encode())
    persona = import_bundle(captured, nhs_number=NEW_NHS, documents_dir=docs, source="fixture.json")
    entry = next(d for d in persona["documents"] if "file" in d)
    assert entry["file"].endswith(f"{first['id']}.txt")
    out = tmp_path / "personas"
    write_imported(persona, out, documents_dir=docs)
    store = PersonaStore.load(out)
    from mockprovider.personas.documents import index
    doc = next(d for d in index(store).of(store.get(NEW_NHS)) if d.key == entry["key"])
    assert doc.read() == "Letter with ünïcödé — day 1\n".encode()


def test_a_bundle_that_is_not_a_structured_record_names_every_problem():
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1", "birthDate": "1970"}},
        {"fullUrl": "urn:x"},
        {"resource": {"resourceType": "Appointment", "id": "a1"}},
    ]}
    with pytest.raises(BundleImportError) as caught:
        import_bundle(bundle, source="bad.json")
    paths = [p for p, _ in caught.value.problems]
    assert "$.type" in paths and "$.entry[1].resource" in paths and "$.entry[2].resource.resourceType" in paths
    assert isinstance(caught.value, PersonaError) and caught.value.file == "bad.json"
    with pytest.raises(BundleImportError) as caught:
        import_bundle({"resourceType": "Parameters"})
    assert caught.value.problems[0][0] == "$.resourceType"


def test_patient_problems_are_named_by_their_path():
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "List", "title": "x"}},
        {"resource": {"resourceType": "Patient", "id": "p1", "birthDate": "1970",
                      "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "{{jsonPath}}"}]}},
    ]}
    with pytest.raises(BundleImportError) as caught:
        import_bundle(bundle)
    paths = [p for p, _ in caught.value.problems]
    assert paths == ["$.entry[1].resource.identifier[0].value", "$.entry[1].resource.birthDate"]


def test_cli_reports_every_problem_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                               "entry": [{"resource": {"resourceType": "Patient"}}, {}]}))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["personas", "import", str(bad), "--out", str(out)])
    assert result.exit_code != 0
    assert "$.entry[1].resource" in result.output and "$.entry[0].resource.id" in result.output
    assert not out.exists() or not any(out.iterdir())


def test_a_failed_write_leaves_nothing_half_written(tmp_path, captured):
    persona = import_bundle(captured, nhs_number=NEW_NHS, source="fixture.json")
    persona["documents"][0] = {**persona["documents"][0], "file": "files/imported-x/missing.pdf"}
    out = tmp_path / "out"
    with pytest.raises(OSError):
        write_imported(persona, out, documents_dir=tmp_path / "nowhere")
    leftovers = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert leftovers == []


def test_a_supplier_shaped_bundle_imports_and_round_trips(tmp_path):
    """A real-volume supplier Bundle (the EMIS-shaped built-in, ~3,000 resources) imports under
    another NHS number and comes back resource for resource (but for the documented rewrites)."""
    app = create_app({"state_dir": str(tmp_path / "state")})
    original = migrate(app.test_client(), "9990042179", True).get_json()
    persona = import_bundle(original, nhs_number=NEW_NHS, source="emis-heavy.json")
    assert len(persona["fhir_record"]["entries"]) == len(original["entry"]) >= 1500
    out = tmp_path / "personas"
    write_imported(persona, out)
    served_app = create_app({"state_dir": str(tmp_path / "state2"), "personas": str(out)})
    served = migrate(served_app.test_client(), NEW_NHS, True).get_json()
    assert len(served["entry"]) == len(original["entry"])
    for sent, came in zip(original["entry"], served["entry"]):
        a, b = sent["resource"], came["resource"]
        if a["resourceType"] in ("Patient", "DocumentReference"):
            continue                  # the NHS number and attachment urls: rewritten (checked above)
        assert a == b


def test_a_bundle_captured_without_sensitive_items_is_served_as_it_came_either_way(tmp_path):
    """Its Lists already carry the confidential-items warning (the marker that items were left
    out): nothing is left to withhold, and nothing can be invented for includeSensitiveInformation=true."""
    app = create_app({"state_dir": str(tmp_path / "state")})
    captured = migrate(app.test_client(), SOURCE, False).get_json()
    warned = [r for r in (e["resource"] for e in captured["entry"]) if r["resourceType"] == "List"
              and any(x.get("valueCode") == "confidential-items" for x in r.get("extension", []))]
    assert warned
    persona = import_bundle(captured, nhs_number=NEW_NHS)
    assert "confidential" not in persona["fhir_record"]
    write_imported(persona, tmp_path / "personas")
    served_app = create_app({"state_dir": str(tmp_path / "state2"), "personas": str(tmp_path / "personas")})
    client = served_app.test_client()
    bodies = [migrate(client, NEW_NHS, sensitive).get_json() for sensitive in (False, True)]
    for body in bodies:
        assert [e["resource"]["resourceType"] for e in body["entry"]] == \
            [e["resource"]["resourceType"] for e in captured["entry"]]
    assert dict(bodies[0], id=None) == dict(bodies[1], id=None)


def test_documents_are_matched_by_attachment_title(tmp_path, captured):
    bundle = json.loads(json.dumps(captured))
    ref = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DocumentReference")
    ref["content"][0]["attachment"]["title"] = "Discharge letter (ward 4)"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "Discharge letter (ward 4).pdf").write_bytes(b"%PDF-1.4 tiny\n")
    persona = import_bundle(bundle, nhs_number=NEW_NHS, documents_dir=docs)
    entry = next(d for d in persona["documents"] if "file" in d)
    assert entry["file"].endswith("Discharge letter (ward 4).pdf") and entry["size"] == 14
    assert ref["content"][0]["attachment"]["size"] != 14     # the caller's Bundle is not changed
    stored = persona["fhir_record"]["entries"]
    stored_ref = next(e["resource"] for e in stored if e["resource"].get("id") == ref["id"])
    assert stored_ref["content"][0]["attachment"]["size"] == 14        # rewritten to the file's size


def test_a_bundle_put_through_the_control_api_is_served_as_it_came(tmp_path, captured):
    """PUT /_control/personas/{nhs} with application/fhir+json runs the same import (no Flask in it)."""
    app = create_app({"state_dir": str(tmp_path / "state")})
    client = app.test_client()
    r = client.put(f"/_control/personas/{NEW_NHS}", data=json.dumps(captured), content_type="application/fhir+json")
    assert r.status_code == 201, r.get_data(as_text=True)[:500]
    served = migrate(client, NEW_NHS, True).get_json()
    assert [e["resource"].get("id") for e in served["entry"]] == [e["resource"].get("id") for e in captured["entry"]]
    url = next(e["resource"]["content"][0]["attachment"]["url"] for e in served["entry"]
               if e["resource"]["resourceType"] == "DocumentReference")
    got = client.get("/" + url.split("://", 1)[1].split("/", 1)[1],
                     headers=h.headers(h.MIGRATE_DOCUMENT, h.claims(reason="migration", scope="patient/*.read conf/R")))
    assert got.status_code == 200 and got.get_json()["resourceType"] == "Binary"
    bad = {"resourceType": "Bundle", "type": "searchset", "entry": [{"fullUrl": "x"}]}
    r = client.put(f"/_control/personas/{NEW_NHS}", data=json.dumps(bad), content_type="application/fhir+json")
    assert r.status_code == 400
    paths = [e["path"] for e in r.get_json()["errors"]]
    assert "$.type" in paths and "$.entry[0].resource" in paths


# --- issue #28 item 2: an imported folder is readable by another user (the image runs as uid 10001) ------
def test_imported_files_are_written_with_the_usual_umask_and_read_by_another_user(tmp_path, captured):
    import os
    import stat
    import subprocess
    import tempfile
    refs = [e["resource"] for e in captured["entry"] if e["resource"]["resourceType"] == "DocumentReference"]
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / f"{refs[0]['id']}.txt").write_bytes(b"letter\n")
    shared = Path(tempfile.mkdtemp(prefix="mockprovider-import-"))      # not under pytest's 0700 tmp
    try:
        shared.chmod(0o755)
        bundle_file = tmp_path / "fixture.json"
        bundle_file.write_text(json.dumps(captured))
        old = os.umask(0o022)                  # the usual umask (a container's default)
        try:
            result = CliRunner().invoke(cli, ["personas", "import", str(bundle_file), "--nhs-number", NEW_NHS,
                                              "--documents", str(docs), "--out", str(shared / "my-personas")])
        finally:
            os.umask(old)
        assert result.exit_code == 0, result.output
        written = [p for p in (shared / "my-personas").rglob("*") if p.is_file()]
        assert len(written) == 2, written               # the persona and its one document
        for path in written:
            assert stat.S_IMODE(path.stat().st_mode) == 0o644, (path, oct(path.stat().st_mode))
        if os.geteuid() == 0:                  # root: read them as the image's user really does
            for path in written:
                read = subprocess.run(["cat", str(path)], user=10001, group=10001, capture_output=True)
                assert read.returncode == 0 and read.stdout == path.read_bytes(), read.stderr
    finally:
        import shutil as _shutil
        _shutil.rmtree(shared, ignore_errors=True)


# --- issue #28 item 3: content that is not STU3 is refused, naming what gave it away ---------------------
def r4_shaped(captured) -> dict:
    """The captured STU3 record as an R4 system writes it: urn:uuid fullUrls, clinicalStatus and
    verificationStatus as CodeableConcepts, Condition.recordedDate instead of assertedDate."""
    bundle = json.loads(json.dumps(captured))
    for n, entry in enumerate(bundle["entry"]):
        entry["fullUrl"] = f"urn:uuid:{uuid.UUID(int=n)}"
        r = entry["resource"]
        if r["resourceType"] in ("AllergyIntolerance", "Condition"):
            for name in ("clinicalStatus", "verificationStatus"):
                if name in r:
                    r[name] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/x", "code": r[name]}]}
        if r["resourceType"] == "Condition" and "assertedDate" in r:
            r["recordedDate"] = r.pop("assertedDate")
    return bundle


def first_index(bundle, kind):
    return next(n for n, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == kind)


def test_an_r4_bundle_is_refused_by_personas_import_naming_what_gave_it_away(tmp_path, captured):
    bundle = r4_shaped(captured)
    source = tmp_path / "r4.json"
    source.write_text(json.dumps(bundle))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["personas", "import", str(source), "--nhs-number", NEW_NHS, "--out", str(out)])
    assert result.exit_code == 1
    allergy, condition = first_index(bundle, "AllergyIntolerance"), first_index(bundle, "Condition")
    assert f"$.entry[{allergy}].resource.clinicalStatus: is an object, where STU3 AllergyIntolerance.clinicalStatus " \
           "is a string (a primitive)" in result.output, result.output
    assert f"$.entry[{condition}].resource.recordedDate: is not an element of STU3 Condition" in result.output
    assert "not FHIR STU3" in result.output and "--allow-invalid" in result.output
    assert not (out / f"{NEW_NHS}.json").exists()
    kept = CliRunner().invoke(cli, ["personas", "import", str(source), "--nhs-number", NEW_NHS, "--out", str(out),
                                    "--allow-invalid"])
    assert kept.exit_code == 0, kept.output
    assert (out / f"{NEW_NHS}.json").exists()


def test_an_r4_bundle_put_is_refused_unless_allowed(tmp_path, captured):
    client = create_app({"state_dir": str(tmp_path / "state")}).test_client()
    bundle = r4_shaped(captured)
    r = client.put(f"/_control/personas/{NEW_NHS}", data=json.dumps(bundle), content_type="application/fhir+json")
    assert r.status_code == 400, r.get_data(as_text=True)[:300]
    body = r.get_json()
    allergy = first_index(bundle, "AllergyIntolerance")
    assert {"path": f"$.entry[{allergy}].resource.clinicalStatus",
            "reason": "is an object, where STU3 AllergyIntolerance.clinicalStatus is a string (a primitive)"} in body["errors"]
    assert "not FHIR STU3" in body["error"]
    assert client.get(f"/_control/personas/{NEW_NHS}").status_code == 404
    r = client.put(f"/_control/personas/{NEW_NHS}?allow_invalid=true", data=json.dumps(bundle),
                   content_type="application/fhir+json")
    assert r.status_code == 201, r.get_data(as_text=True)[:300]


def test_genuine_stu3_bundles_pass_the_check(captured):
    from mockprovider.fhir.stu3_shape import not_stu3
    assert not_stu3(captured) == []


# --- issue #28 item 4: the control export marks what the import recognises, so the round trip keeps ---
# --- the persona's behaviour ------------------------------------------------------------------------------
CONFIDENTIAL_PERSONAS = ["9690937286", "9690938118", "9690990004", "9690990039", "9690990047", "9690990063",
                         "9990042187"]


def masked(bundle) -> list:
    """The entries, with attachment urls (rewritten to the imported documents' Binary ids) and
    the export's confidentiality markers taken out."""
    out = []
    for entry in bundle["entry"]:
        r = json.loads(json.dumps(entry["resource"]))
        for content in r.get("content", []) if r["resourceType"] == "DocumentReference" else []:
            content["attachment"].pop("url", None)
        security = (r.get("meta") or {}).get("security")
        if security:
            r["meta"]["security"] = [c for c in security if c.get("system") != CONFIDENTIALITY]
            if not r["meta"]["security"]:
                del r["meta"]["security"]
        out.append(r)
    return out


@pytest.mark.parametrize("nhs", CONFIDENTIAL_PERSONAS)
def test_the_exported_record_put_back_answers_as_the_persona_did(tmp_path, nhs):
    client = create_app({"state_dir": str(tmp_path / "state")}).test_client()
    original = {s: migrate(client, nhs, s).get_json() for s in (True, False)}
    exported = client.get(f"/_control/personas/{nhs}/record?sensitive=true")
    assert exported.status_code == 200
    marked = [e["resource"] for e in exported.get_json()["entry"]
              if any(c.get("system") == CONFIDENTIALITY and c.get("code") == "R"
                     for c in (e["resource"].get("meta") or {}).get("security", []))]
    left_out = {(e["resource"]["resourceType"], e["resource"].get("id")) for e in original[True]["entry"]} - \
        {(e["resource"]["resourceType"], e["resource"].get("id")) for e in original[False]["entry"]}
    assert marked and {(r["resourceType"], r["id"]) for r in marked} <= left_out
    r = client.put(f"/_control/personas/{nhs}", data=exported.data, content_type="application/fhir+json")
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    for sensitive in (True, False):
        again = migrate(client, nhs, sensitive).get_json()
        assert len(again["entry"]) == len(original[sensitive]["entry"])
        assert masked(again) == masked(original[sensitive])


# --- issue #28 item 9: an imported persona's description names its source, not the number it was given ---
def test_a_bundle_put_over_http_is_described_by_its_source(tmp_path, captured):
    client = create_app({"state_dir": str(tmp_path / "state")}).test_client()
    r = client.put(f"/_control/personas/{NEW_NHS}", data=json.dumps(captured), content_type="application/fhir+json")
    assert r.status_code == 201
    assert NEW_NHS not in r.get_json()["description"]
    assert captured["id"] in r.get_json()["description"]          # the Bundle's own id says where it came from
    r = client.put(f"/_control/personas/{NEW_NHS}?source=emis-fixture.json", data=json.dumps(captured),
                   content_type="application/fhir+json")
    assert r.get_json()["description"] == "Imported from emis-fixture.json"


def test_control_persona_put_names_the_file(tmp_path, captured):
    from mockprovider.control_client import ControlClient
    calls = []
    original = ControlClient.call
    try:
        ControlClient.call = lambda self, method, path, *a, **k: calls.append((method, path)) or {}
        bundle_file = tmp_path / "my fixture.json"
        bundle_file.write_text(json.dumps(captured))
        result = CliRunner().invoke(cli, ["control", "persona", "put", str(bundle_file), "--nhs-number", NEW_NHS])
    finally:
        ControlClient.call = original
    assert result.exit_code == 0, result.output
    assert calls == [("PUT", f"/personas/{NEW_NHS}?source=my%20fixture.json")]
