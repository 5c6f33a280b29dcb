"""Run-time personas over the control API (issue #15): list, put, delete, reload, reset, and the
journal fields that say why a request was refused."""
import json
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from mockprovider.app import create_app
from mockprovider.config import BUILT_IN_PERSONAS
from tests import helpers as h

MIGRATE = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"
NEW_NHS = "9000000009"          # a valid test NHS number that no built-in persona uses
BUILT_IN_FILES = sorted(p for p in Path(BUILT_IN_PERSONAS).glob("*.json") if p.name != "schema.json")


@pytest.fixture
def app(store_app):
    """Every test here that uses ``client`` runs on SQLite and on Redis (MOCKPROVIDER_STATE_URL)."""
    return store_app()


def new_persona(nhs=NEW_NHS, family="Runtime", **extra):
    return {"nhs_number": nhs, "name": {"family": family, "given": ["Rita"]}, "gender": "female",
            "birth_date": "1980-02-03", "description": "put over the control API", **extra}


def migrate(client, nhs=NEW_NHS):
    return client.post(MIGRATE, data=json.dumps(h.migrate_body(nhs)), headers=h.migrate_headers())


def patient_of(response) -> dict:
    bundle = response.get_json()
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")


def listing(client) -> dict:
    response = client.get("/_control/personas")
    assert response.status_code == 200
    return {row["nhs_number"]: row for row in response.get_json()}


# --- GET /_control/personas ---------------------------------------------------------------------------------
def test_the_list_names_every_built_in_persona_with_its_fields(client):
    rows = listing(client)
    files = {json.loads(p.read_text())["nhs_number"]: p for p in BUILT_IN_FILES}
    assert set(rows) == set(files)
    for number, row in rows.items():
        data = json.loads(files[number].read_text())
        assert row["source"] == "built-in"
        assert row["description"] == data.get("description")
        assert row["file"] == files[number].name
        assert set(data.get("tags", [])) <= set(row["tags"])     # declared tags agree with the derived ones


def test_a_persona_folder_of_ones_own_is_source_folder(tmp_path):
    folder = tmp_path / "cast"
    folder.mkdir()
    shutil.copy(BUILT_IN_FILES[0], folder)
    client = create_app({"state_dir": str(tmp_path / "state"), "personas": str(folder)}).test_client()
    rows = client.get("/_control/personas").get_json()
    assert [r["source"] for r in rows] == ["folder"]


# --- PUT ---------------------------------------------------------------------------------------------------
def test_put_creates_then_replaces_and_the_bundle_follows(client):
    assert migrate(client).status_code == 404                  # not in the cast yet
    r = client.put(f"/_control/personas/{NEW_NHS}", json=new_persona())
    assert r.status_code == 201
    assert r.headers["Location"] == f"/_control/personas/{NEW_NHS}"
    assert r.get_json()["source"] == "run-time" and r.get_json()["description"] == "put over the control API"
    answer = migrate(client)
    assert answer.status_code == 200
    assert patient_of(answer)["name"][0]["family"] == "Runtime"

    r = client.put(f"/_control/personas/{NEW_NHS}", json=new_persona(family="Replaced"))
    assert r.status_code == 200
    assert patient_of(migrate(client))["name"][0]["family"] == "Replaced"   # no stale cached Bundle
    assert listing(client)[NEW_NHS]["source"] == "run-time"
    shown = client.get(f"/_control/personas/{NEW_NHS}").get_json()
    assert (shown["name"], shown["source"]) == ("Rita Replaced", "run-time")


def test_put_over_a_built_in_persona_replaces_it(client):
    number = "9690937286"
    before = patient_of(migrate(client, number))
    data = json.loads((Path(BUILT_IN_PERSONAS) / f"{number}.json").read_text())
    data["name"] = {"family": "Swapped", "given": ["Sam"]}
    r = client.put(f"/_control/personas/{number}", json=data)
    assert r.status_code == 200
    after = patient_of(migrate(client, number))
    assert before["name"][0]["family"] != "Swapped" and after["name"][0]["family"] == "Swapped"
    assert listing(client)[number]["source"] == "run-time"


def test_the_nhs_number_may_be_left_to_the_url(client):
    body = new_persona()
    del body["nhs_number"]
    assert client.put(f"/_control/personas/{NEW_NHS}", json=body).status_code == 201
    assert migrate(client).status_code == 200


def test_a_bad_persona_lists_every_mistake_and_changes_nothing(client):
    before = listing(client)
    body = {"nhs_number": NEW_NHS, "name": {"family": 3}, "gender": "x", "birth_date": "1980-13-01",
            "pds": {"sensitive": "yes"},
            "record": {"problems": [
                {"key": "p1", "date": "2020-01-01", "code": "not a code"},
                {"key": "p2", "date": "someday", "code": "22298006|Myocardial infarction"}]}}
    # (sent as written: the mistakes come in the order of the body, json= would sort its keys)
    r = client.put(f"/_control/personas/{NEW_NHS}", data=json.dumps(body), content_type="application/json")
    assert r.status_code == 400
    paths = [row["path"] for row in r.get_json()["errors"]]
    assert paths == ["$.name.family", "$.gender", "$.birth_date", "$.pds.sensitive",
                     "$.record.problems[0].code", "$.record.problems[1].date"]
    assert all(row["reason"] for row in r.get_json()["errors"])
    assert listing(client) == before
    assert client.get(f"/_control/personas/{NEW_NHS}").status_code == 404


def test_a_mistake_is_reported_once_not_echoed_by_what_refers_to_it(client):
    body = new_persona(record={
        "problems": [{"key": "p1", "date": "2020-01-01", "code": "bad"}],
        "allergies": [{"key": "a1", "date": "2020-01-01", "code": "91936005|Allergy to penicillin",
                       "problem": "p1"}]})
    r = client.put(f"/_control/personas/{NEW_NHS}", json=body)
    assert r.status_code == 400
    assert [row["path"] for row in r.get_json()["errors"]] == ["$.record.problems[0].code"]


def test_indexes_are_those_of_the_body_as_sent(client):
    good = {"key": "ok", "date": "2020-01-01", "code": "22298006|Myocardial infarction"}
    body = new_persona(record={"problems": [
        {"key": "b1", "date": "x", "code": "22298006|Myocardial infarction"}, good,
        {"key": "b2", "date": "2020-01-01", "code": "bad"}]})
    r = client.put(f"/_control/personas/{NEW_NHS}", json=body)
    assert [row["path"] for row in r.get_json()["errors"]] == ["$.record.problems[0].date",
                                                               "$.record.problems[2].code"]


@pytest.mark.parametrize("url_nhs, body, path", [
    ("1234567890", new_persona(nhs="1234567890"), "nhs_number (URL)"),
    (NEW_NHS, new_persona(nhs="9690937286"), "$.nhs_number"),
    (NEW_NHS, [1, 2], "$"),
])
def test_wrong_numbers_and_shapes_are_400(client, url_nhs, body, path):
    r = client.put(f"/_control/personas/{url_nhs}", json=body)
    assert r.status_code == 400
    assert r.get_json()["errors"][0]["path"] == path


def test_a_body_that_is_not_json_is_400_at_the_root(client):
    r = client.put(f"/_control/personas/{NEW_NHS}", data=b"{nope", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["errors"][0]["path"] == "$"


@pytest.mark.parametrize("method, path", [("PUT", f"/_control/personas/{NEW_NHS}"), ("PATCH", "/_control/flags"),
                                          ("POST", "/_control/faults")])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_control_body_that_is_not_json_is_415_naming_the_content_type(client, method, path, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    r = client.open(path, method=method, data=b'{"validation": "lenient"}', headers=headers)
    assert r.status_code == 415
    message = r.get_json()["error"]
    assert (repr(content_type) in message) if content_type else ("Content-Type is missing" in message)
    assert client.get("/_control/flags").get_json()["validation"] == "strict"


# --- DELETE, reload, reset ---------------------------------------------------------------------------------
def test_delete_takes_a_persona_out_until_reset(client):
    number = "9690937286"
    assert migrate(client, number).status_code == 200
    r = client.delete(f"/_control/personas/{number}")
    assert r.status_code == 200 and r.get_json() == {"status": "deleted", "nhs_number": number}
    answer = migrate(client, number)
    assert answer.status_code == 404
    assert answer.get_json()["issue"][0]["details"]["coding"][0]["code"] == "PATIENT_NOT_FOUND"
    assert number not in listing(client)
    assert client.delete(f"/_control/personas/{number}").status_code == 404


def test_reset_restores_the_start_up_cast(client):
    start = listing(client)
    client.put(f"/_control/personas/{NEW_NHS}", json=new_persona())
    client.delete("/_control/personas/9690937286")
    client.put("/_control/personas/9690937278", json=new_persona(nhs="9690937278", family="Other"))
    assert listing(client) != start
    r = client.post("/_control/reset")
    assert r.status_code == 200 and r.get_json()["personas"] == len(start)
    assert listing(client) == start
    assert migrate(client).status_code == 404 and migrate(client, "9690937286").status_code == 200


def test_reload_reads_the_folder_again_and_a_bad_folder_changes_nothing(tmp_path):
    folder = tmp_path / "cast"
    folder.mkdir()
    shutil.copy(BUILT_IN_FILES[0], folder)
    client = create_app({"state_dir": str(tmp_path / "state"), "personas": str(folder)}).test_client()
    (folder / "new.json").write_text(json.dumps(new_persona()))
    assert NEW_NHS not in listing(client)
    r = client.post("/_control/personas/reload")
    assert r.status_code == 200 and r.get_json()["personas"] == 2
    assert listing(client)[NEW_NHS]["source"] == "folder"

    (folder / "bad.json").write_text(json.dumps({"nhs_number": "9000000017", "gender": "x"}))
    r = client.post("/_control/personas/reload")
    assert r.status_code == 400
    errors = r.get_json()["errors"]
    assert {e["file"] for e in errors} == {str(folder / "bad.json")}
    assert len(listing(client)) == 2
    (folder / "bad.json").unlink()
    (folder / "new.json").unlink()
    client.post("/_control/reset")                       # back to the folder as loaded at start-up
    assert len(listing(client)) == 1


# --- the journal says why ------------------------------------------------------------------------------------
def test_a_refused_request_names_its_interaction_spine_code_and_diagnostics(client):
    headers = h.migrate_headers()
    del headers["Ssp-TraceID"]
    client.post(MIGRATE, data=json.dumps(h.migrate_body()), headers=headers)
    row = client.get("/_control/requests?limit=1").get_json()[0]
    assert row["interaction"] == "migrate_structured"
    assert row["spine_code"] == "BAD_REQUEST" and row["status"] == 400
    assert "Ssp-TraceID" in row["diagnostics"]


def test_a_business_error_is_journalled_with_its_code(client):
    migrate(client)                                        # NEW_NHS is not in the cast
    row = client.get("/_control/requests?limit=1").get_json()[0]
    assert (row["interaction"], row["spine_code"], row["status"]) == ("migrate_structured", "PATIENT_NOT_FOUND", 404)
    assert row["diagnostics"]


def test_a_binary_refused_before_the_interaction_id_is_known_names_none(client):
    client.get(h.DOCUMENTS + "/Binary/abc", headers={"Ssp-TraceID": "not-a-uuid"})
    row = client.get("/_control/requests?limit=1").get_json()[0]
    assert row["interaction"] is None and row["spine_code"] == "BAD_REQUEST"
    headers = h.headers(h.RETRIEVE_DOCUMENT)
    headers["Ssp-TraceID"] = "nope"
    client.get(h.DOCUMENTS + "/Binary/abc", headers=headers)
    assert client.get("/_control/requests?limit=1").get_json()[0]["interaction"] == "retrieve_document"


def test_a_success_has_no_spine_code(client):
    client.get(h.STRUCTURED + "/metadata", headers=h.metadata_headers())
    row = client.get("/_control/requests?limit=1").get_json()[0]
    assert row["status"] == 200 and row["spine_code"] is None and row["diagnostics"] is None


# --- the token's scheme is case-insensitive ---------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_control_token_scheme_is_case_insensitive(tmp_path, scheme):
    client = create_app({"state_dir": str(tmp_path), "control_token": "s3cret"}).test_client()
    assert client.get("/_control/flags", headers={"Authorization": f"{scheme} s3cret"}).status_code == 200
    assert client.get("/_control/flags", headers={"Authorization": f"{scheme} wrong"}).status_code == 401


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "bEaReR"])
def test_the_fhir_bearer_scheme_is_case_insensitive(client, scheme):
    headers = h.metadata_headers()
    headers["Authorization"] = scheme + headers["Authorization"][len("Bearer"):]
    assert client.get(h.STRUCTURED + "/metadata", headers=headers).status_code == 200
    headers["Authorization"] = "Basic" + headers["Authorization"][len(scheme):]
    assert client.get(h.STRUCTURED + "/metadata", headers=headers).status_code == 400


# --- structured_enabled has one documented effect ------------------------------------------------------------
@pytest.mark.parametrize("flag", ["structured_enabled", "gpconnect_enabled"])
def test_structured_capability_off_denies_its_capability_statement_only(client, control, flag):
    control.update_flags({flag: False})
    r = client.get(h.STRUCTURED + "/metadata", headers=h.metadata_headers())
    assert r.status_code == 403
    assert r.get_json()["issue"][0]["details"]["coding"][0]["code"] == "ACCESS DENIED"
    assert migrate(client, "9690937286").status_code == 200          # migrate ignores enablement
    documents_meta = client.get(h.DOCUMENTS + "/metadata", headers=h.headers(
        h.METADATA_DOCUMENTS, h.claims(scope="organization/*.read")))
    assert documents_meta.status_code == 200


# --- a run-time persona's documents come and go with it ---------------------------------------------------
def generated_document(key="rt-letter", size=4096):
    from mockprovider.personas.documents import generated_sha256
    seed = f"{NEW_NHS}/{key}"
    return {"key": key, "description": "Letter put at run time", "type": "419891008|Record artifact",
            "created": "2024-01-02T10:00:00+00:00", "indexed": "2024-01-03T10:00:00+00:00",
            "author": {"organization": "B82617"}, "contentType": "text/plain",
            "generate": {"size": size, "seed": seed}, "sha256": generated_sha256(size, seed)}


def test_a_run_time_persona_documents_are_served_and_go_with_it(client):
    def fetch(url):
        headers = h.headers(h.MIGRATE_DOCUMENT, h.claims(reason="migration", scope="patient/*.read conf/R"))
        return client.get(urlsplit(url).path, headers=headers)

    assert client.put(f"/_control/personas/{NEW_NHS}", json=new_persona(documents=[generated_document()])).status_code == 201
    documents = client.get(f"/_control/personas/{NEW_NHS}").get_json()["documents"]
    assert [d["size"] for d in documents] == [4096]
    answer = fetch(documents[0]["url"])
    assert answer.status_code == 200, answer.data[:300]
    before = client.get(h.DOCUMENTS + "/Binary/" + documents[0]["binary_id"], headers=h.headers(h.RETRIEVE_DOCUMENT))
    assert before.status_code == 200

    client.put(f"/_control/personas/{NEW_NHS}", json=new_persona(documents=[generated_document("other", 2048)]))
    assert fetch(documents[0]["url"]).status_code == 404             # the replaced persona's document is gone
    assert [d["size"] for d in client.get(f"/_control/personas/{NEW_NHS}").get_json()["documents"]] == [2048]
    client.delete(f"/_control/personas/{NEW_NHS}")
    assert client.get(h.DOCUMENTS + "/Binary/" + documents[0]["binary_id"],
                      headers=h.headers(h.RETRIEVE_DOCUMENT)).status_code == 404


# --- issue #28 item 9: a generated document of a run-time persona needs no sha256 from the client --------
def test_a_generated_document_without_sha256_is_given_one(client):
    from mockprovider.personas.documents import generated_sha256
    document = generated_document()
    del document["sha256"]
    r = client.put(f"/_control/personas/{NEW_NHS}", json=new_persona(documents=[document]))
    assert r.status_code == 201, r.get_data(as_text=True)[:400]
    stored = client.application.extensions["mockprovider"].personas.get(NEW_NHS).data["documents"][0]
    assert stored["sha256"] == generated_sha256(document["generate"]["size"], document["generate"]["seed"])


def test_the_sha256_command_prints_without_a_warning():
    import subprocess
    import sys
    from mockprovider.personas.documents import generated_sha256
    for command in ([sys.executable, "-m", "mockprovider.personas.documents", "4096", "s1"],
                    [sys.executable, "-c", "from mockprovider.cli import cli; cli()", "personas", "sha256",
                     "4096", "s1"]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stderr, done.stdout.strip()) == (0, "", generated_sha256(4096, "s1")), command
