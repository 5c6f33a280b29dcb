"""``mockprovider example``: a ready request for every interaction the mock serves.

Checked against the tables the gate itself uses (the routes table, spec's JWT claims and
lifetime), through the real gate, and live: the printed curl command, run by a shell against a
real ``mockprovider serve``, gets the interaction's success answer.
"""
from __future__ import annotations

import base64
import json
import shlex
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner
from werkzeug.datastructures import Headers

from mockprovider import example, spec
from mockprovider.cli import cli
from mockprovider.config import Settings
from mockprovider.personas.store import PersonaStore
from mockprovider.http import gate, routes

# What each interaction answers on success (the resource type of its 200 body).
SUCCESS = {"migrate_structured": "Bundle", "migrate_document": "Binary", "retrieve_document": "Binary",
           "find_patient": "Bundle", "read_patient": "Patient", "search_documents": "Bundle",
           "metadata_structured": "CapabilityStatement", "metadata_documents": "CapabilityStatement",
           "metadata": "CapabilityStatement", "retrieve_structured": "Bundle"}


def test_every_interaction_the_mock_serves_has_an_example():
    """A new interaction in the routes table needs one entry in example.EXAMPLES (and one here)."""
    assert {e.interaction for e in example.EXAMPLES} == set(routes.BY_NAME) == set(SUCCESS)


def decode(token: str) -> tuple[dict, dict]:
    head, payload, signature = token.split(".")
    assert signature == ""
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(head))), json.loads(base64.urlsafe_b64decode(pad(payload)))


@pytest.mark.parametrize("entry", example.EXAMPLES, ids=lambda e: e.interaction)
def test_the_request_carries_every_header_and_claim_and_passes_the_real_gate(entry):
    settings = Settings()
    store = PersonaStore.load(settings.personas)
    request = example.build(entry, example.subject_for(entry, None, store, settings))
    headers = dict(request.headers)
    interaction = routes.BY_NAME[entry.interaction]
    assert headers["Ssp-InteractionID"] in interaction.ids and headers["Ssp-To"] == settings.provider_asid
    header, claims = decode(headers["Authorization"].removeprefix("Bearer "))
    assert header == {"alg": "none", "typ": "JWT"}
    assert tuple(claims) == spec.JWT_CLAIMS
    assert claims["exp"] - claims["iat"] == spec.JWT_LIFETIME_SECONDS
    assert claims["reason_for_request"] in interaction.reasons
    assert claims["requested_scope"].split()[0] in interaction.scopes
    path = request.url.removeprefix("http://127.0.0.1:8080").split("?")[0]
    passed = gate.check_request(path=path, method=request.method, headers=Headers(list(request.headers)),
                                query_format=None, body_length=len(request.body) if request.body else None,
                                settings=settings, flags=settings.runtime_defaults())
    assert passed.interaction.name == entry.interaction
    assert passed.trace_id == headers["Ssp-TraceID"]


def test_migrate_scope_follows_sensitive_and_the_body_agrees():
    entry = example.find("migrate")
    subject = example.Subject("9690937286")
    for sensitive, scope in ((False, "patient/*.read conf/N"), (True, "patient/*.read conf/R")):
        request = example.build(entry, subject, sensitive=sensitive)
        assert request.claims["requested_scope"] == scope
        part = json.loads(request.body)["parameter"][1]["part"][0]
        assert part == {"name": "includeSensitiveInformation", "valueBoolean": sensitive}


def test_registered_elsewhere_persona_is_asked_for_by_its_own_practice():
    store = PersonaStore.load(Settings().personas)
    subject = example.subject_for(example.find("migrate"), "9690939114", store)
    request = example.build(example.find("migrate"), subject)
    ods = request.claims["requesting_organization"]["identifier"][0]["value"]
    assert ods == store.get("9690939114").registered_practice_ods == "A20047"


def test_mistakes_are_one_line_errors():
    runner = CliRunner()
    for args, message in ((["example", "migrate-everything"], "no interaction 'migrate-everything'"),
                          (["example", "migrate", "12345"], "'12345' is not an NHS number"),
                          (["example", "metadata", "9690937286"], "metadata takes no argument"),
                          (["example", "retrieve-document", "9690937294"], "has no document that retrieve-document"),
                          (["example", "retrieve-document", "9690937286", "--document", "nope"], "has no document 'nope'"),
                          (["example"], "name an interaction")):
        result = runner.invoke(cli, args)
        assert result.exit_code != 0 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_list_names_every_interaction():
    result = CliRunner().invoke(cli, ["example", "--list"])
    assert result.exit_code == 0
    for entry in example.EXAMPLES:
        assert example.command_name(entry.interaction) in result.output


# --- live: the printed command, run by a shell, against a real server -------------------------------------
@pytest.fixture(scope="module")
def server():
    from tests.live.conftest import LiveServer
    live = LiveServer(workers=1)
    yield live
    live.stop()


def printed(*args) -> str:
    result = CliRunner().invoke(cli, ["example", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def run_curl(command: str) -> tuple[int, bytes]:
    """Run a printed curl command in a shell, adding only where the body and status go."""
    assert shutil.which("curl"), "curl is needed to run the printed examples"
    out = subprocess.run(["bash", "-c", command.strip() + " -o /dev/stdout -w '\\n%{http_code}'"], capture_output=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    body, _, status = out.stdout.rpartition(b"\n")
    return int(status), body


def kind(body: bytes) -> str:
    return json.loads(body)["resourceType"]


@pytest.mark.live
@pytest.mark.parametrize("entry", example.EXAMPLES, ids=lambda e: e.interaction)
def test_the_printed_curl_succeeds_against_a_live_server(server, entry):
    args = [example.command_name(entry.interaction), "--url", server.url]
    if entry.argument:
        args.insert(1, "9690937286")
    status, body = run_curl(printed(*args))
    assert (status, kind(body)) == (200, SUCCESS[entry.interaction]), body[:300]
    row = server.control.requests(1)[0]
    assert (row["interaction"], row["status"], row["spine_code"]) == (entry.interaction, 200, None)


@pytest.mark.live
def test_the_issue_example_the_single_root_xml_and_a_sensitive_migrate(server):
    status, body = run_curl(printed("migrate", "9690937286", "--url", server.url, "--sensitive"))
    bundle = json.loads(body)
    assert status == 200 and bundle["resourceType"] == "Bundle"
    status, body = run_curl(printed("search-documents", "9690937286", "--url", server.url, "--single-root"))
    urls = [e["resource"]["content"][0]["attachment"].get("url", "") for e in json.loads(body)["entry"]
            if e["resource"]["resourceType"] == "DocumentReference"]
    assert status == 200 and urls and all("/gpconnect/fhir/Binary/" in u for u in urls if u)
    status, body = run_curl(printed("read-patient", "9690937286", "--url", server.url, "--xml"))
    assert status == 200 and b"<Patient xmlns=\"http://hl7.org/fhir\">" in body[:100]


@pytest.mark.live
def test_run_makes_the_request(server):
    command = [sys.executable, "-c", "from mockprovider.cli import cli; cli()", "example", "metadata-structured",
               "--url", server.url, "--run"]
    out = subprocess.run(command, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stderr.startswith(b"HTTP 200 OK") and kind(out.stdout) == "CapabilityStatement"
    missing = subprocess.run(command[:4] + ["find-patient", "9999999999", "--url", server.url, "--run"],
                             capture_output=True, timeout=60)
    assert missing.returncode == 0 and kind(missing.stdout) == "Bundle"       # a searchset with no entry
    bad = subprocess.run(command[:4] + ["migrate", "9999999999", "--url", server.url, "--run"],
                         capture_output=True, timeout=60)
    assert bad.returncode == 1 and b"HTTP 404" in bad.stderr and b"PATIENT_NOT_FOUND" in bad.stdout


def test_curl_quoting_survives_a_shell():
    request = example.build(example.find("migrate"), example.Subject("9690937286"))
    words = shlex.split(request.curl().replace("\\\n", " "))
    assert words[:4] == ["curl", "-sS", "-X", "POST"] and words[4].endswith("/Patient/$gpc.migratestructuredrecord")
    assert json.loads(words[words.index("--data") + 1]) == json.loads(request.body)
