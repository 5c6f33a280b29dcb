"""Fault kinds, rules, flags and the control CLI against a real server on a real socket
(``mockprovider serve``: gunicorn threaded workers, as users run it)."""
import http.client
import json
import threading
import time

import pytest
from click.testing import CliRunner

from mockprovider.cli import cli
from mockprovider.control_client import ControlError
from tests import helpers as h
from tests.spec_tables import ERRORS, OO_PROFILE

pytestmark = pytest.mark.live

META = h.STRUCTURED + "/metadata"


def meta(server, **changes):
    return server.get(META, h.metadata_headers(**changes))


def last_entry(server):
    return server.control.requests(1)[0]


def assert_spine(answer, code):
    status, issue_type, display = ERRORS[code]
    assert answer.status == status, answer
    assert answer.headers["Content-Type"] == "application/fhir+json;charset=utf-8"
    body = json.loads(answer.body)
    assert body["meta"]["profile"] == [OO_PROFILE]
    assert body["issue"][0]["details"]["coding"][0]["code"] == code
    assert body["issue"][0]["code"] == issue_type


# --- each kind ---------------------------------------------------------------------------------------------
def test_no_fault(live_server):
    answer = meta(live_server)
    assert answer.status == 200 and answer.error is None
    assert json.loads(answer.body)["resourceType"] == "CapabilityStatement"
    assert "fault" not in last_entry(live_server)


def test_error_with_spine_code(live_server):
    live_server.control.add_fault({"kind": "error", "code": "NO_PATIENT_CONSENT"})
    assert_spine(meta(live_server), "NO_PATIENT_CONSENT")
    entry = last_entry(live_server)
    assert entry["status"] == 403 and entry["error"] == "NO_PATIENT_CONSENT" and entry["fault"]["kind"] == "error"


@pytest.mark.parametrize("status", [502, 503, 504])
def test_error_with_proxy_status(live_server, status):
    live_server.control.add_fault({"kind": "error", "status": status})
    answer = meta(live_server)
    assert answer.status == status
    coding = json.loads(answer.body)["issue"][0]["details"]["coding"][0]
    assert coding["code"] == str(status)
    assert last_entry(live_server)["status"] == status


def test_reset_is_a_tcp_reset(live_server):
    live_server.control.add_fault({"kind": "reset"})
    answer = meta(live_server)
    assert answer.status is None and isinstance(answer.error, ConnectionResetError), answer
    entry = last_entry(live_server)
    assert entry["fault"]["kind"] == "reset" and entry["status"] is None


def test_empty_closes_without_response(live_server):
    live_server.control.add_fault({"kind": "empty"})
    answer = meta(live_server)
    assert answer.status is None and isinstance(answer.error, http.client.RemoteDisconnected), answer
    assert last_entry(live_server)["fault"]["kind"] == "empty"


def test_malformed_is_200_not_json(live_server):
    live_server.control.add_fault({"kind": "malformed"})
    answer = meta(live_server)
    assert answer.status == 200 and answer.error is None
    assert answer.headers["Content-Type"] == "application/fhir+json;charset=utf-8"
    with pytest.raises(ValueError):
        json.loads(answer.body)


def test_truncated_promises_more_than_it_sends(live_server):
    whole = meta(live_server).body
    live_server.control.add_fault({"kind": "truncated"})
    answer = meta(live_server)
    assert answer.status == 200
    assert isinstance(answer.error, http.client.IncompleteRead), answer
    assert int(answer.headers["Content-Length"]) == len(whole)
    assert 0 < len(answer.body) < len(whole) and whole.startswith(answer.body)
    assert last_entry(live_server)["fault"]["kind"] == "truncated"


def test_drip_sends_the_whole_body_slowly(live_server):
    whole = meta(live_server).body
    rule = live_server.control.add_fault({"kind": "drip", "duration_ms": 400})
    started = time.monotonic()
    answer = meta(live_server)
    elapsed = time.monotonic() - started
    assert answer.status == 200 and answer.error is None
    assert answer.body == whole and int(answer.headers["Content-Length"]) == len(whole)
    assert elapsed >= 0.4 * 0.9          # a lower bound only (pieces sleep 40 ms each)
    assert last_entry(live_server)["fault"] == {"kind": "drip", "duration_ms": 400, "rules": [rule["id"]]}


def test_delay(live_server):
    live_server.control.add_fault({"kind": "delay", "ms": 300})
    started = time.monotonic()
    answer = meta(live_server)
    assert time.monotonic() - started >= 0.3
    assert answer.status == 200
    assert last_entry(live_server)["fault"]["ms"] == 300


def test_delay_combined_with_error(live_server):
    live_server.control.add_fault({"kind": "delay", "ms": 200, "times": 1})
    live_server.control.add_fault({"kind": "error", "code": "NO_RECORD_FOUND", "times": 1})
    started = time.monotonic()
    answer = meta(live_server)
    assert time.monotonic() - started >= 0.2
    assert_spine(answer, "NO_RECORD_FOUND")
    fault = last_entry(live_server)["fault"]
    assert fault["kind"] == "error" and fault["ms"] == 200 and len(fault["rules"]) == 2
    assert meta(live_server).status == 200


def test_delay_on_a_reset_rule(live_server):
    live_server.control.add_fault({"kind": "reset", "ms": 150, "times": 1})
    started = time.monotonic()
    assert isinstance(meta(live_server).error, ConnectionResetError)
    assert time.monotonic() - started >= 0.15


# --- times, matching, reset ----------------------------------------------------------------------------------
def test_fail_twice_then_succeed(live_server):
    live_server.control.add_fault({"kind": "error", "status": 503, "times": 2})
    assert [meta(live_server).status for _ in range(4)] == [503, 503, 200, 200]
    assert live_server.control.faults() == []


def test_reset_twice_then_succeed(live_server):
    live_server.control.add_fault({"kind": "reset", "times": 2})
    answers = [meta(live_server) for _ in range(3)]
    assert [type(a.error) for a in answers] == [ConnectionResetError, ConnectionResetError, type(None)]
    assert answers[2].status == 200


def test_times_is_atomic_across_workers(live_server):
    live_server.control.add_fault({"kind": "error", "code": "INTERNAL_SERVER_ERROR", "times": 5})
    statuses = [answer.status for answer in in_parallel(16, lambda: meta(live_server))]
    assert sorted(statuses) == [200] * 11 + [500] * 5


def test_match_interaction_and_asid(live_server):
    live_server.control.add_fault({"kind": "reset", "match": {"interaction": "metadata_documents"}})
    live_server.control.add_fault({"kind": "error", "code": "NO_RECORD_FOUND",
                                   "match": {"interaction": "metadata_structured", "from_asid": "111111111111"}})
    assert meta(live_server).status == 200
    assert_spine(meta(live_server, Ssp_From="111111111111"), "NO_RECORD_FOUND")
    documents = live_server.get(h.DOCUMENTS + "/metadata",
                                h.headers(h.METADATA_DOCUMENTS, h.claims(scope="organization/*.read")))
    assert isinstance(documents.error, ConnectionResetError)


def test_match_nhs_number_and_document_id(live_server):
    live_server.control.add_fault({"kind": "error", "status": 502,
                                   "match": {"interaction": "migrate_structured", "nhs_number": "9690937286"}})
    live_server.control.add_fault({"kind": "empty", "match": {"interaction": "retrieve_document",
                                                              "document_id": "doc-1"}})
    migrate = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"
    hit = live_server.request("POST", migrate, h.migrate_headers(), json.dumps(h.migrate_body("9690937286")).encode())
    assert hit.status == 502
    live_server.request("POST", migrate, h.migrate_headers(), json.dumps(h.migrate_body("9690937294")).encode())
    assert "fault" not in last_entry(live_server)
    gone = live_server.get(h.DOCUMENTS + "/Binary/doc-1", h.headers(h.RETRIEVE_DOCUMENT, h.claims()))
    assert gone.status is None and isinstance(gone.error, http.client.RemoteDisconnected)
    live_server.get(h.DOCUMENTS + "/Binary/doc-2", h.headers(h.RETRIEVE_DOCUMENT, h.claims()))
    assert "fault" not in last_entry(live_server)


def test_post_reset_returns_to_defaults(live_server):
    control = live_server.control
    control.flags({"validation": "lenient", "documents_enabled": False})
    control.add_fault({"kind": "reset"})
    meta(live_server, Ssp_From=None)
    state = control.reset()
    assert state["faults"] == [] and state["flags"]["validation"] == "strict"
    assert control.requests() == []
    assert meta(live_server).status == 200
    assert meta(live_server, Ssp_From=None).status == 400


def test_server_log_is_clean(live_server):
    """Every kind above ended its connection the way the server expects: no traceback logged."""
    log = live_server.stderr()
    assert "Traceback" not in log and "Error handling request" not in log, log


# --- several workers share one state -------------------------------------------------------------------------
def in_parallel(count, call):
    results = [None] * count

    def one(i):
        results[i] = call()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def warm_every_worker(server):
    """Overlapping slow requests, so several workers serve one and cache the current state.
    A threaded worker may take a whole burst on its own (it accepts while its threads work), so
    bursts repeat until at least two workers have answered."""
    workers = set()
    for _ in range(10):
        server.control.add_fault({"kind": "delay", "ms": 300, "times": 16})
        in_parallel(16, lambda: meta(server))
        workers |= {entry["worker"] for entry in server.control.requests(16)}
        if len(workers) >= 2:
            break
    assert len(workers) >= 2, workers
    return workers


@pytest.fixture(scope="module")
def four_workers():
    from tests.live.conftest import LiveServer
    server = LiveServer(workers=4)
    yield server
    server.stop()


@pytest.mark.slow
def test_four_workers_all_see_a_flag_and_a_fault(four_workers):
    server = four_workers
    server.control.reset()
    warm_every_worker(server)
    server.control.flags({"validation": "lenient"})
    # one request a connection: whichever worker accepts first takes it
    assert [meta(server, Ssp_From=None).status for _ in range(100)] == [200] * 100
    warm_every_worker(server)
    server.control.flags({"validation": "strict"})
    assert [meta(server, Ssp_From=None).status for _ in range(100)] == [400] * 100
    server.control.add_fault({"kind": "error", "status": 503})
    assert [meta(server).status for _ in range(100)] == [503] * 100


# --- protection -----------------------------------------------------------------------------------------------
def test_token_protection(start_server):
    server = start_server(workers=1, env={"MOCKPROVIDER_CONTROL_TOKEN": "live-token-123"})
    assert server.get("/_control/health").status == 200
    for headers in ({}, {"Authorization": "Bearer nope"}):
        assert server.get("/_control/state", headers).status == 401
    assert server.request("POST", "/_control/faults", {"Content-Type": "application/json"},
                          b'{"kind":"reset"}').status == 401
    assert server.control.faults() == []                 # the client carries the token
    meta(server)
    runner = CliRunner()
    denied = runner.invoke(cli, ["control", "--url", server.url, "--token", "wrong", "flags"])
    assert denied.exit_code != 0 and "401" in denied.output
    allowed = runner.invoke(cli, ["control", "--url", server.url, "requests"],
                            env={"MOCKPROVIDER_CONTROL_TOKEN": "live-token-123"})
    assert allowed.exit_code == 0, allowed.output
    assert "live-token-123" not in allowed.output and json.loads(allowed.output)[0]["path"] == META
    assert "live-token-123" not in json.dumps(server.control.state())


# --- the CLI ---------------------------------------------------------------------------------------------------
def run(server, *args):
    result = CliRunner().invoke(cli, ["control", "--url", server.url, *args])
    return result


def test_cli_flags(live_server):
    result = CliRunner().invoke(cli, ["control", "flags"], env={"MOCKPROVIDER_URL": live_server.url})
    assert result.exit_code == 0 and json.loads(result.output)["validation"] == "strict"
    result = run(live_server, "flags", "--set", "validation=lenient", "--set", "structured_enabled=false",
                 "--set", "retrieve_document_limit_bytes=10")
    assert result.exit_code == 0, result.output
    flags = live_server.control.flags()
    assert flags["validation"] == "lenient" and flags["structured_enabled"] is False
    assert flags["retrieve_document_limit_bytes"] == 10
    bad = run(live_server, "flags", "--set", "nonsense=1")
    assert bad.exit_code != 0 and "nonsense" in bad.output
    assert run(live_server, "flags", "--set", "novalue").exit_code != 0


def test_cli_faults_requests_reset(live_server):
    added = run(live_server, "fault", "add", "--kind", "error", "--status", "503", "--times", "2",
                "--interaction", "metadata_structured", "--from-asid", h.CONSUMER_ASID, "--ms", "5")
    assert added.exit_code == 0, added.output
    rule = json.loads(added.output)
    assert rule["match"] == {"interaction": "metadata_structured", "from_asid": h.CONSUMER_ASID}
    assert rule["status"] == 503 and rule["times"] == 2 and rule["ms"] == 5
    assert meta(live_server).status == 503
    listed = json.loads(run(live_server, "faults").output)
    assert [(r["id"], r["remaining"]) for r in listed] == [(rule["id"], 1)]
    journal = json.loads(run(live_server, "requests", "--limit", "1").output)
    assert journal[0]["fault"]["status"] == 503
    assert run(live_server, "fault", "delete", rule["id"]).exit_code == 0
    assert live_server.control.faults() == []
    missing = run(live_server, "fault", "delete", rule["id"])
    assert missing.exit_code != 0 and "404" in missing.output
    bad = run(live_server, "fault", "add", "--kind", "error", "--code", "NOPE")
    assert bad.exit_code != 0 and "NOPE" in bad.output
    run(live_server, "fault", "add", "--kind", "malformed")
    assert json.loads(run(live_server, "reset").output)["faults"] == []
    assert json.loads(run(live_server, "requests").output) == []


def test_cli_cannot_reach(live_server):
    result = CliRunner().invoke(cli, ["control", "faults"], env={"MOCKPROVIDER_URL": "http://127.0.0.1:9"})
    assert result.exit_code != 0 and "cannot reach" in result.output


def test_client_error_carries_the_field(live_server):
    with pytest.raises(ControlError) as caught:
        live_server.control.add_fault({"kind": "drip"})
    assert caught.value.status == 400 and caught.value.body["field"] == "duration_ms"


# --- Flask's development server (serve --dev): the nearest honest thing -----------------------------------------
@pytest.fixture(scope="module")
def dev_server():
    from tests.live.conftest import LiveServer
    server = LiveServer(args=["--dev"])
    yield server
    server.stop()


@pytest.mark.parametrize("kind,error", [("reset", http.client.RemoteDisconnected),
                                        ("empty", http.client.RemoteDisconnected),
                                        ("truncated", http.client.IncompleteRead)])
def test_socket_kinds_under_the_dev_server(dev_server, kind, error):
    dev_server.control.reset()
    dev_server.control.add_fault({"kind": kind, "times": 1})
    answer = meta(dev_server)
    # reset: werkzeug half-closes the connection itself, so the client may see EOF before the RST
    assert isinstance(answer.error, (error, ConnectionResetError)), answer
    assert meta(dev_server).status == 200         # and the server carries on
    assert "Traceback" not in dev_server.stderr()


# --- the document interactions ------------------------------------------------------------------------------------
def document_url(nhs, key):
    from mockprovider.personas import ids
    return f"{h.DOCUMENTS}/Binary/{ids.document_id(nhs, key)}"


PDF_URL = document_url("9690937286", "discharge-letter")
BIG_URL = document_url("9690937308", "big-scanned-letter")     # a generated 6 MiB document, streamed


def retrieve(server, path=PDF_URL):
    return server.get(path, h.headers(h.RETRIEVE_DOCUMENT, h.claims()))


def migrate_document(server, path=BIG_URL):
    return server.get(path, h.headers(h.MIGRATE_DOCUMENT, h.claims()))


def test_retrieve_document_matched_by_id(live_server):
    whole = retrieve(live_server)
    assert whole.status == 200, whole
    document_id = PDF_URL.rsplit("/", 1)[1]
    live_server.control.add_fault({"kind": "truncated", "times": 1,
                                   "match": {"interaction": "retrieve_document", "document_id": document_id}})
    other = retrieve(live_server, document_url("9690937286", "referral-letter"))
    assert other.error is None and other.status == 200                            # another document: untouched
    cut = retrieve(live_server)
    assert isinstance(cut.error, http.client.IncompleteRead)
    assert int(cut.headers["Content-Length"]) == len(whole.body)
    assert 0 < len(cut.body) < len(whole.body) and whole.body.startswith(cut.body)
    assert retrieve(live_server).body == whole.body        # times: 1


def test_drip_a_streamed_document(live_server):
    live_server.control.add_fault({"kind": "drip", "duration_ms": 300,
                                   "match": {"interaction": "migrate_document"}})
    started = time.monotonic()
    answer = migrate_document(live_server)
    assert time.monotonic() - started >= 0.3 * 0.9
    assert answer.status == 200 and answer.error is None
    assert len(answer.body) == int(answer.headers["Content-Length"])
    import base64
    assert len(base64.b64decode(json.loads(answer.body)["content"])) == 6 * 1024 * 1024


def test_reset_matched_by_nhs_number_on_find_patient(live_server):
    live_server.control.add_fault({"kind": "reset", "match": {"interaction": "find_patient",
                                                              "nhs_number": "9690937286"}})
    system = "https://fhir.nhs.uk/Id/nhs-number"
    hit = live_server.get(f"{h.DOCUMENTS}/Patient?identifier={system}|9690937286", h.headers(h.FIND_PATIENT, h.claims()))
    assert isinstance(hit.error, ConnectionResetError)
    miss = live_server.get(f"{h.DOCUMENTS}/Patient?identifier={system}|9690937308", h.headers(h.FIND_PATIENT, h.claims()))
    assert miss.error is None and miss.status == 200


@pytest.mark.slow
def test_enablement_flag_reaches_every_worker(four_workers):
    server = four_workers
    server.control.reset()
    warm_every_worker(server)
    assert retrieve(server).status == 200
    server.control.flags({"documents_enabled": False})
    denied = [retrieve(server) for _ in range(50)]
    assert {answer.status for answer in denied} == {403}
    assert json.loads(denied[0].body)["issue"][0]["details"]["coding"][0]["code"] == "ACCESS DENIED"
    # migrate a document ignores enablement by default (design.md decisions table)
    assert migrate_document(server, PDF_URL).status == 200
    server.control.reset()
    assert retrieve(server).status == 200


@pytest.mark.slow
def test_state_survives_a_worker_restart(four_workers):
    import os
    import signal
    server = four_workers
    server.control.reset()
    server.control.flags({"validation": "lenient"})
    server.control.add_fault({"kind": "error", "code": "NO_RECORD_FOUND", "match": {"from_asid": "111111111111"}})
    victims = warm_every_worker(server)
    for pid in victims:                         # workers of the server this test started
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:          # gunicorn forks replacements from the preloaded app
        answer = meta(server, Ssp_From=None)
        if answer.status is not None and server.control.requests(1)[0]["worker"] not in victims:
            break
        time.sleep(0.1)
    assert [meta(server, Ssp_From=None).status for _ in range(20)] == [200] * 20
    assert_spine(meta(server, Ssp_From="111111111111"), "NO_RECORD_FOUND")
    workers = {entry["worker"] for entry in server.control.requests(21)}
    assert not workers & victims


# --- migrate structured -------------------------------------------------------------------------------------------
MIGRATE = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"


def migrate_structured(server, nhs="9690937286"):
    return server.request("POST", MIGRATE, h.migrate_headers(), json.dumps(h.migrate_body(nhs)).encode())


def test_migrate_structured_fails_twice_for_one_patient_then_succeeds(live_server):
    live_server.control.add_fault({"kind": "error", "status": 503, "times": 2,
                                   "match": {"interaction": "migrate_structured", "nhs_number": "9690937286"}})
    live_server.control.add_fault({"kind": "delay", "ms": 100, "times": 1,
                                   "match": {"interaction": "migrate_structured"}})
    other = migrate_structured(live_server, "9690937294")       # another patient: only the delay
    assert other.status == 200 and json.loads(other.body)["resourceType"] == "Bundle"
    fault = last_entry(live_server)["fault"]
    assert fault["kind"] == "delay" and fault["ms"] == 100 and len(fault["rules"]) == 1
    answers = [migrate_structured(live_server) for _ in range(3)]
    assert [a.status for a in answers] == [503, 503, 200]
    bundle = json.loads(answers[2].body)
    assert bundle["resourceType"] == "Bundle"
    assert live_server.control.faults() == []


def test_migrate_structured_reset_then_truncated(live_server):
    whole = migrate_structured(live_server)
    assert whole.status == 200
    live_server.control.add_fault({"kind": "reset", "times": 1, "match": {"interaction": "migrate_structured"}})
    live_server.control.add_fault({"kind": "truncated", "times": 1, "match": {"interaction": "migrate_structured"}})
    assert isinstance(migrate_structured(live_server).error, ConnectionResetError)
    cut = migrate_structured(live_server)
    assert isinstance(cut.error, http.client.IncompleteRead)
    assert int(cut.headers["Content-Length"]) == len(whole.body) > len(cut.body)
    assert migrate_structured(live_server).status == 200
    kinds = [entry.get("fault", {}).get("kind") for entry in live_server.control.requests(4)]
    assert kinds == [None, "truncated", "reset", None]
