"""The control API through the Flask test client: flags, fault rules, state, reset, the journal,
token protection. (Socket-level fault kinds need a real socket: tests/live/.)"""
import json
import logging

import pytest
from click.testing import CliRunner

from mockprovider.app import create_app, is_loopback, warn_if_unprotected
from mockprovider.config import Settings
from tests import helpers as h
from tests.spec_tables import assert_outcome

META = h.STRUCTURED + "/metadata"
MIGRATE = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"
BINARY = h.DOCUMENTS + "/Binary/"


@pytest.fixture
def app(store_app):
    """Every test here runs on SQLite and on Redis (MOCKPROVIDER_STATE_URL): same behaviour."""
    return store_app()


def meta(client, **changes):
    return client.get(META, headers=h.metadata_headers(**changes))


def add(client, **rule):
    r = client.post("/_control/faults", json=rule)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


# --- flags -----------------------------------------------------------------------------------------------
def test_flags_read_and_change(client):
    flags = client.get("/_control/flags").get_json()
    for name in ("gpconnect_enabled", "structured_enabled", "documents_enabled", "validation",
                 "dissent_blocks_migrate", "migrate_document_codes"):
        assert name in flags
    r = client.patch("/_control/flags", json={"structured_enabled": False, "validation": "lenient"})
    assert r.status_code == 200
    assert r.get_json()["structured_enabled"] is False
    assert client.get("/_control/flags").get_json()["validation"] == "lenient"


@pytest.mark.parametrize("changes,field", [
    ({"nonsense": True}, "nonsense"),
    ({"structured_enabled": "false"}, "structured_enabled"),
    ({"validation": "loose"}, "validation"),
    ({"retrieve_document_limit_bytes": -1}, "retrieve_document_limit_bytes"),
    ({"retrieve_document_limit_bytes": True}, "retrieve_document_limit_bytes"),
])
def test_bad_flag_is_400_naming_it(client, changes, field):
    before = client.get("/_control/flags").get_json()
    r = client.patch("/_control/flags", json=changes)
    assert r.status_code == 400
    assert r.get_json()["field"] == field and field in r.get_json()["error"]
    assert client.get("/_control/flags").get_json() == before


def test_flags_need_a_json_object(client):
    assert client.patch("/_control/flags", data="x", content_type="application/json").status_code == 400


def test_a_flag_changes_behaviour(client):
    assert_outcome(meta(client, Ssp_From=None), "BAD_REQUEST")
    client.patch("/_control/flags", json={"validation": "lenient"})
    assert meta(client, Ssp_From=None).status_code == 200


# --- fault rules -------------------------------------------------------------------------------------------
def test_fault_rules_add_list_delete(client):
    rule = add(client, kind="error", code="NO_RECORD_FOUND", times=2, match={"interaction": "metadata_structured"})
    assert rule["id"] and rule["remaining"] == 2 and rule["match"] == {"interaction": "metadata_structured"}
    assert client.get("/_control/faults").get_json() == [rule]
    assert client.delete("/_control/faults/" + rule["id"]).get_json() == {"status": "deleted", "id": rule["id"]}
    assert client.get("/_control/faults").get_json() == []
    r = client.delete("/_control/faults/" + rule["id"])
    assert r.status_code == 404 and r.get_json()["field"] == "id"


def test_clear_every_fault_rule(client):
    add(client, kind="malformed")
    add(client, kind="reset")
    assert client.delete("/_control/faults").get_json() == {"status": "cleared", "deleted": 2}
    assert client.get("/_control/faults").get_json() == []


@pytest.mark.parametrize("rule,field", [
    ({"kind": "boom"}, "kind"), ({"kind": "error"}, "code"), ({"kind": "error", "status": 500}, "status"),
    ({"kind": "delay"}, "ms"), ({"kind": "reset", "times": 0}, "times"),
    ({"kind": "reset", "match": {"interaction": "nope"}}, "match.interaction"),
])
def test_bad_fault_rule_is_400_naming_the_field(client, rule, field):
    r = client.post("/_control/faults", json=rule)
    assert r.status_code == 400
    assert r.get_json()["field"] == field
    assert client.get("/_control/faults").get_json() == []


def test_fault_rule_must_be_json(client):
    r = client.post("/_control/faults", data="kind=reset")      # no Content-Type: 415 saying so
    assert r.status_code == 415 and r.get_json()["field"] == "Content-Type"
    r = client.post("/_control/faults", data="kind=reset", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["field"] == "rule"


@pytest.mark.parametrize("code", ["NO_RECORD_FOUND", "ACCESS DENIED", "INVALID_NHS_NUMBER", "INTERNAL_SERVER_ERROR",
                                  "NOT_AUTHORISED"])
def test_error_fault_is_the_spec_outcome(client, code):
    add(client, kind="error", code=code)
    body = assert_outcome(meta(client), code)
    assert "Fault injected" in body["issue"][0]["diagnostics"]


def test_error_fault_diagnostics(client):
    add(client, kind="error", code="PATIENT_NOT_FOUND", diagnostics="no such patient today")
    assert assert_outcome(meta(client), "PATIENT_NOT_FOUND")["issue"][0]["diagnostics"] == "no such patient today"


@pytest.mark.parametrize("status,issue_type", [(502, "transient"), (503, "transient"), (504, "timeout")])
def test_proxy_status_fault_has_the_ssp_shape(client, status, issue_type):
    add(client, kind="error", status=status)
    r = meta(client)
    assert r.status_code == status
    assert r.headers["Content-Type"] == "application/fhir+json;charset=utf-8"
    body = r.get_json()
    assert "meta" not in body                   # errors.md §2: the SSP shape has no profile
    (issue,) = body["issue"]
    assert issue["severity"] == "error" and issue["code"] == issue_type
    (coding,) = issue["details"]["coding"]
    assert coding["system"] == "http://fhir.nhs.net/ValueSet/gpconnect-schedule-response-code-1-0"
    assert coding["code"] == str(status)
    from fhir.resources.STU3.operationoutcome import OperationOutcome
    OperationOutcome.model_validate(body)
    if status == 502:
        assert coding["display"] == issue["diagnostics"]
        assert issue["diagnostics"].startswith("ERROR_COMMUNICATING_TO_ENDPOINT_URL_http")


def test_malformed_fault_is_200_not_json(client):
    add(client, kind="malformed")
    r = meta(client)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        json.loads(r.data)


def test_times_fail_twice_then_succeed(client):
    rule = add(client, kind="error", code="INTERNAL_SERVER_ERROR", times=2)
    assert meta(client).status_code == 500
    assert client.get("/_control/faults").get_json()[0]["remaining"] == 1
    assert meta(client).status_code == 500
    assert client.get("/_control/faults").get_json() == []          # spent: removed
    assert meta(client).status_code == 200
    assert [e["fault"]["rules"] for e in client.get("/_control/requests").get_json() if "fault" in e] == \
        [[rule["id"]], [rule["id"]]]


def test_rules_form_a_queue(client):
    add(client, kind="error", status=503, times=2)
    add(client, kind="error", code="NO_RECORD_FOUND", times=1)
    assert [meta(client).status_code for _ in range(4)] == [503, 503, 404, 200]


def test_delay_combines_with_error(client):
    add(client, kind="delay", ms=1, times=1)
    add(client, kind="error", code="NO_RECORD_FOUND", ms=2, times=1)
    assert_outcome(meta(client), "NO_RECORD_FOUND")
    entry = client.get("/_control/requests").get_json()[0]
    assert entry["fault"]["kind"] == "error" and entry["fault"]["ms"] == 3 and entry["error"] == "NO_RECORD_FOUND"
    assert len(entry["fault"]["rules"]) == 2


def test_gate_failures_come_before_faults(client):
    add(client, kind="error", code="NO_RECORD_FOUND", times=1)
    assert_outcome(meta(client, Ssp_TraceID="nope"), "BAD_REQUEST")
    assert client.get("/_control/faults").get_json()[0]["remaining"] == 1   # not used up


def test_match_interaction(client):
    add(client, kind="error", code="NO_RECORD_FOUND", match={"interaction": "metadata_documents"})
    assert meta(client).status_code == 200
    r = client.get(h.DOCUMENTS + "/metadata",
                   headers=h.headers(h.METADATA_DOCUMENTS, h.claims(scope="organization/*.read")))
    assert_outcome(r, "NO_RECORD_FOUND")


def test_match_from_asid(client):
    add(client, kind="error", code="NO_RECORD_FOUND", match={"from_asid": "111111111111"})
    assert meta(client).status_code == 200
    assert_outcome(meta(client, Ssp_From="111111111111"), "NO_RECORD_FOUND")


def migrate(client, nhs):
    return client.post(MIGRATE, data=json.dumps(h.migrate_body(nhs)), headers=h.migrate_headers())


def test_match_nhs_number_on_migrate(client):
    add(client, kind="error", code="PATIENT_NOT_FOUND",
        match={"interaction": "migrate_structured", "nhs_number": "9690937286"})
    assert_outcome(migrate(client, "9690937286"), "PATIENT_NOT_FOUND")
    migrate(client, "9690937294")
    other, matched = client.get("/_control/requests").get_json()
    assert matched["interaction"] == "migrate_structured" and matched["fault"]["code"] == "PATIENT_NOT_FOUND"
    assert other["interaction"] == "migrate_structured" and "fault" not in other


def binary(client, document_id, interaction=h.RETRIEVE_DOCUMENT):
    return client.get(BINARY + document_id, headers=h.headers(interaction, h.claims()))


def test_match_document_id_and_interaction_on_binary(client):
    add(client, kind="error", status=504, match={"interaction": "retrieve_document", "document_id": "doc-1"})
    assert binary(client, "doc-1").status_code == 504
    binary(client, "doc-2")
    binary(client, "doc-1", h.MIGRATE_DOCUMENT)
    journal = client.get("/_control/requests").get_json()
    assert [(e["interaction"], "fault" in e) for e in journal] == [
        ("migrate_document", False), ("retrieve_document", False), ("retrieve_document", True)]


# --- state, reset, journal ----------------------------------------------------------------------------------
def test_state_shows_everything(client):
    client.patch("/_control/flags", json={"documents_enabled": False})
    rule = add(client, kind="malformed", times=3)
    meta(client)
    state = client.get("/_control/state").get_json()
    assert state["flags"]["documents_enabled"] is False and state["defaults"]["documents_enabled"] is True
    assert state["faults"] == [dict(rule, remaining=2)]
    assert len(state["requests"]) == 1 and state["journal_size"] == 500
    assert state["personas"] >= 0 and state["ods_code"] == h.ODS and state["control_token"] is False


def test_reset_returns_to_start_up_flags(store_app):
    app = store_app(validation="lenient", structured_enabled=False)
    client = app.test_client()
    client.patch("/_control/flags", json={"validation": "strict", "structured_enabled": True, "error_display": "guidance"})
    add(client, kind="malformed")
    meta(client)
    r = client.post("/_control/reset")
    assert r.status_code == 200
    flags = client.get("/_control/flags").get_json()
    assert flags["validation"] == "lenient" and flags["structured_enabled"] is False
    assert flags["error_display"] == "codesystem"
    assert client.get("/_control/faults").get_json() == []
    assert client.get("/_control/requests").get_json() == []


def test_journal_fields_newest_first(client):
    first = h.metadata_headers()
    second = h.metadata_headers(Ssp_From="123456789012")
    client.get(META, headers=first)
    client.get(META, headers=second)
    newest, oldest = client.get("/_control/requests").get_json()
    assert newest["trace_id"] == second["Ssp-TraceID"] and newest["consumer_asid"] == "123456789012"
    assert oldest["trace_id"] == first["Ssp-TraceID"]
    for key in ("time", "method", "path", "interaction", "trace_id", "consumer_asid", "status", "findings"):
        assert key in newest
    assert newest["method"] == "GET" and newest["path"] == META and newest["status"] == 200
    assert newest["interaction"] == "metadata_structured"


def test_journal_records_lenient_findings_and_errors(client):
    client.patch("/_control/flags", json={"validation": "lenient"})
    meta(client, Ssp_From=None)
    meta(client, Ssp_TraceID="x")
    bad, lenient = client.get("/_control/requests").get_json()
    assert any("Ssp-From" in f for f in lenient["findings"])
    assert bad["status"] == 400 and bad["error"] == "BAD_REQUEST"


def test_journal_is_bounded(store_app):
    client = store_app(journal_size=3).test_client()
    sent = [h.metadata_headers() for _ in range(70)]
    for headers in sent:
        client.get(META, headers=headers)
    journal = client.get("/_control/requests").get_json()
    assert [e["trace_id"] for e in journal] == [s["Ssp-TraceID"] for s in sent[::-1][:3]]
    assert [e["trace_id"] for e in client.get("/_control/requests?limit=2").get_json()] == \
        [s["Ssp-TraceID"] for s in sent[::-1][:2]]
    assert client.get("/_control/requests?limit=-1").status_code == 400


def test_journal_clear(client):
    meta(client)
    assert client.delete("/_control/requests").status_code == 200
    assert client.get("/_control/requests").get_json() == []


def test_unknown_control_path_is_json_404(client):
    r = client.get("/_control/nothing")
    assert r.status_code == 404 and "error" in r.get_json()


# --- protection --------------------------------------------------------------------------------------------
TOKEN = "s3cret-control-token"


@pytest.fixture
def guarded(tmp_path):
    return create_app({"state_dir": str(tmp_path), "control_token": TOKEN}).test_client()


@pytest.mark.parametrize("method,path", [("GET", "/_control/state"), ("GET", "/_control/flags"),
                                         ("PATCH", "/_control/flags"), ("POST", "/_control/faults"),
                                         ("GET", "/_control/faults"), ("DELETE", "/_control/faults/x"),
                                         ("POST", "/_control/reset"), ("GET", "/_control/requests"),
                                         ("DELETE", "/_control/requests")])
@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Bearer " + TOKEN + "x", TOKEN, "Basic " + TOKEN, "bearer"])
def test_token_required(guarded, method, path, auth):
    headers = {"Authorization": auth} if auth else {}
    r = guarded.open(path, method=method, headers=headers, json={})
    assert r.status_code == 401 and "Bearer" in r.headers["WWW-Authenticate"]


def test_token_accepted_and_health_open(guarded):
    assert guarded.get("/_control/health").status_code == 200
    ok = {"Authorization": "Bearer " + TOKEN}
    assert guarded.patch("/_control/flags", json={"validation": "lenient"}, headers=ok).status_code == 200
    assert guarded.get("/_control/state", headers=ok).get_json()["control_token"] is True


def test_journal_never_holds_the_token(guarded):
    ok = {"Authorization": "Bearer " + TOKEN}
    guarded.get(META, headers=h.metadata_headers())
    guarded.get(META, headers={**h.metadata_headers(), "Authorization": "Bearer " + TOKEN})  # misdirected
    guarded.post("/_control/faults", json={"kind": "malformed", "times": 1}, headers=ok)
    guarded.get("/_control/flags", headers={"Authorization": "Bearer wrong"})
    journal = guarded.get("/_control/requests", headers=ok).get_json()
    assert [e["path"] for e in journal] == [META, META]          # control calls are not journalled
    state = guarded.get("/_control/state", headers=ok).get_data(as_text=True)
    assert TOKEN not in json.dumps(journal) and TOKEN not in state


@pytest.mark.parametrize("host,loopback", [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True),
                                           ("localhost", True), ("0.0.0.0", False), ("::", False),
                                           ("10.1.2.3", False), ("mock.example", False)])
def test_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_warning_when_exposed_without_token(caplog):
    with caplog.at_level(logging.WARNING, logger="mockprovider"):
        assert warn_if_unprotected(Settings(host="0.0.0.0")) is True
        assert warn_if_unprotected(Settings(host="0.0.0.0", control_token="t")) is False
        assert warn_if_unprotected(Settings(host="127.0.0.1")) is False
    assert len(caplog.records) == 1 and "MOCKPROVIDER_CONTROL_TOKEN" in caplog.records[0].getMessage()


def test_serve_shows_the_warning(monkeypatch, tmp_path):
    from mockprovider import cli, server
    monkeypatch.setattr(server, "run_gunicorn", lambda app, settings: None)
    monkeypatch.setenv("MOCKPROVIDER_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("MOCKPROVIDER_CONTROL_TOKEN", raising=False)
    result = CliRunner().invoke(cli.cli, ["serve", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code == 0, result.output
    assert "has no token" in result.output and "MOCKPROVIDER_CONTROL_TOKEN" in result.output
    quiet = CliRunner().invoke(cli.cli, ["serve", "--host", "127.0.0.1", "--port", "1"])
    assert "has no token" not in quiet.output


# --- issue #28 item 9: a known control path with the wrong method is 405 with Allow, not 404 ------------
@pytest.mark.parametrize("method, path, allowed", [
    ("POST", "/_control/health", {"GET"}),
    ("DELETE", "/_control/catalogue", {"GET"}),
    ("PUT", "/_control/reset", {"POST"}),
    ("POST", "/_control/personas/9690937286/record", {"GET"}),
    ("PATCH", "/_control/personas/9690937286", {"GET", "PUT", "DELETE"}),
])
def test_a_known_control_path_with_another_method_is_405_with_allow(client, method, path, allowed):
    r = client.open(path, method=method, json={} if method in ("POST", "PUT", "PATCH") else None)
    assert r.status_code == 405, (r.status_code, r.get_json())
    assert set(r.headers["Allow"].replace(" ", "").split(",")) - {"HEAD", "OPTIONS"} == allowed
    assert r.get_json()["error"] and r.is_json


def test_an_unknown_control_path_is_still_404(client):
    assert client.post("/_control/nothing-here", json={}).status_code == 404


# --- issue #28 item 1: control bodies are bounded by settings (the persona body limit is one) -----------
def _chunked(client, method, path, body: bytes, content_type="application/json"):
    """A body with no Content-Length (as a chunked request arrives): only the stream tells its size."""
    import io
    return client.open(path, method=method, input_stream=io.BytesIO(body), content_type=content_type,
                       environ_overrides={"HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_LENGTH": "",
                                          "wsgi.input_terminated": True})


def test_a_persona_body_over_its_setting_is_413_naming_it(tmp_path):
    from mockprovider.app import create_app
    client = create_app({"state_dir": str(tmp_path / "s"), "max_persona_body_bytes": 2000}).test_client()
    small = {"name": {"family": "Small"}, "gender": "female", "birth_date": "1980-01-01"}
    assert client.put("/_control/personas/9690990500", json=small).status_code == 201
    big = dict(small, description="x" * 3000)
    for r in (client.put("/_control/personas/9690990500", json=big),
              _chunked(client, "PUT", "/_control/personas/9690990500", json.dumps(big).encode())):
        assert r.status_code == 413 and r.is_json, r.data[:200]
        assert "MOCKPROVIDER_MAX_PERSONA_BODY_BYTES" in r.get_json()["error"] and "2000" in r.get_json()["error"]
    assert client.get("/_control/personas/9690990500").get_json()["description"] == ""    # the small one stayed


def test_other_control_bodies_are_bounded_too(tmp_path):
    from mockprovider.app import create_app
    client = create_app({"state_dir": str(tmp_path / "s"), "max_control_body_bytes": 500}).test_client()
    assert client.post("/_control/faults", json={"kind": "delay", "ms": 1}).status_code == 201
    huge = json.dumps({"kind": "delay", "ms": 1, "match": {"nhs_number": "1" * 1000}}).encode()
    for r in (client.post("/_control/faults", data=huge, content_type="application/json"),
              _chunked(client, "POST", "/_control/faults", huge),
              _chunked(client, "PATCH", "/_control/flags", b'{"validation": "' + b"x" * 1000 + b'"}')):
        assert r.status_code == 413 and r.is_json, r.data[:200]
        assert "MOCKPROVIDER_MAX_CONTROL_BODY_BYTES" in r.get_json()["error"]
    assert len(client.get("/_control/faults").get_json()) == 1


def test_the_body_limits_are_settings_with_documented_defaults():
    from mockprovider.config import Settings
    s = Settings.from_env({})
    assert (s.max_persona_body_bytes, s.max_control_body_bytes) == (64 * 1024 * 1024, 1024 * 1024)
    assert Settings.from_env({"MOCKPROVIDER_MAX_PERSONA_BODY_BYTES": "1000"}).max_persona_body_bytes == 1000
