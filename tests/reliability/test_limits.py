"""Limits with clear answers on a real server: each gives a FHIR error or a clean close, never a
hung or restarted worker (README "Reliability").
"""
import json
import socket
import time

import pytest

from tests import helpers as h
from tests.reliability.liveserver import LiveServer
from tests.spec_tables import ERRORS, OO_PROFILE, SPINE_SYSTEM

pytestmark = pytest.mark.live

META = h.STRUCTURED + "/metadata"
MIGRATE = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # One worker, so a worker held by a slow client would show as a hang of the whole server.
    with LiveServer(tmp_path_factory.mktemp("limits"), workers=1, env={
        "MOCKPROVIDER_CLIENT_TIMEOUT_SECONDS": "1", "MOCKPROVIDER_MAX_BODY_BYTES": "65536",
    }) as live:
        yield live


def parse_raw(answer: bytes):
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


def assert_raw_outcome(status, headers, body, code):
    expected_status, issue_type, display = ERRORS[code]
    assert status == expected_status, (status, body[:300])
    assert headers["content-type"] == "application/fhir+json;charset=utf-8"
    assert "no-store" in headers["cache-control"]
    outcome = json.loads(body)
    assert outcome["meta"]["profile"] == [OO_PROFILE]
    issue = outcome["issue"][0]
    assert issue["code"] == issue_type
    assert issue["details"]["coding"] == [{"system": SPINE_SYSTEM, "code": code, "display": display}]
    return outcome


def request_bytes(method="GET", path=META, headers=None, body=b""):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@pytest.fixture(autouse=True)
def same_workers(server):
    """No limit may cost a worker: the worker PIDs are the same after each test."""
    before = server.worker_pids()
    yield
    assert server.request("GET", META, headers=h.metadata_headers())[0] == 200
    assert server.worker_pids() == before, server.log()


# --- header size: gunicorn rejects these before the app; the mock answers them in FHIR ----------------
def test_oversized_header_field_is_bad_request(server):
    answer = server.raw(request_bytes(headers={**h.metadata_headers(), "X-Big": "a" * 20000}))
    assert_raw_outcome(*parse_raw(answer), "BAD_REQUEST")


def test_too_many_header_fields_is_bad_request(server):
    many = {f"X-H{i}": "v" for i in range(150)}
    answer = server.raw(request_bytes(headers={**h.metadata_headers(), **many}))
    assert_raw_outcome(*parse_raw(answer), "BAD_REQUEST")


def test_oversized_request_line_is_bad_request(server):
    answer = server.raw(request_bytes(path=META + "?q=" + "x" * 9000, headers=h.metadata_headers()))
    assert_raw_outcome(*parse_raw(answer), "BAD_REQUEST")


@pytest.mark.parametrize("raw", [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET /x HTTP/1.1\r\nBad Header Name: v\r\n\r\n",
    b"GET /x HTTP/1.1\r\nX-Null: a\x00b\r\n\r\n",
])
def test_malformed_http_is_bad_request(server, raw):
    assert_raw_outcome(*parse_raw(server.raw(raw)), "BAD_REQUEST")


def test_malformed_chunked_body_is_bad_request(server):
    """The framing error surfaces while the app reads the body: still 400, never 500."""
    headers = {**h.migrate_headers(), "Transfer-Encoding": "chunked"}
    answer = server.raw(request_bytes("POST", MIGRATE, headers, b"ZZ\r\nabc\r\n0\r\n\r\n"))
    assert_raw_outcome(*parse_raw(answer), "BAD_REQUEST")


def test_unsupported_transfer_coding_is_not_implemented(server):
    raw = b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
    status, headers, body = parse_raw(server.raw(raw))
    # gunicorn versions differ: 501 for a coding it does not support, or 400 for the framing.
    assert_raw_outcome(status, headers, body, "NOT_IMPLEMENTED" if status == 501 else "BAD_REQUEST")


# --- body size ----------------------------------------------------------------------------------------
def test_oversized_body_with_content_length_is_bad_request(server):
    status, headers, body = server.request("POST", MIGRATE, b"{" * 70000, h.migrate_headers())
    assert_raw_outcome(status, {k.lower(): v for k, v in headers.items()}, body, "BAD_REQUEST")


def test_oversized_chunked_body_is_bad_request(server):
    chunk = b"a" * 8192
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(10)) + b"0\r\n\r\n"
    headers = {**h.migrate_headers(), "Transfer-Encoding": "chunked", "Connection": "close"}
    answer = server.raw(request_bytes("POST", MIGRATE, headers, chunks))
    assert_raw_outcome(*parse_raw(answer), "BAD_REQUEST")


# --- slow clients ---------------------------------------------------------------------------------------
def _closed_by_server(sock, bound=15.0):
    """True when the server closes the connection (EOF or reset) within ``bound`` seconds."""
    sock.settimeout(bound)
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


@pytest.mark.parametrize("sent", [b"", b"GET " + META.encode() + b" HTTP/1.1\r\nHost: x\r\n"])
def test_silent_or_stalled_client_is_closed_and_others_are_served(server, sent):
    with socket.create_connection((server.host, server.port)) as slow:
        slow.sendall(sent)
        time.sleep(0.2)
        # The one worker is busy with the slow client; this request waits for it, then is served.
        assert server.request("GET", META, headers=h.metadata_headers(), timeout=15)[0] == 200
        assert _closed_by_server(slow)


def test_stalled_body_is_closed(server):
    with socket.create_connection((server.host, server.port)) as slow:
        headers = {**h.migrate_headers(), "Content-Length": "1000"}
        slow.sendall(request_bytes("POST", MIGRATE, headers, b'{"resourceType": '))
        assert _closed_by_server(slow)


# --- JSON nesting depth ---------------------------------------------------------------------------------
def test_deeply_nested_parameters_body_is_invalid_resource(server):
    body = b'{"resourceType":"Parameters","parameter":' + b"[" * 20000 + b"]" * 20000 + b"}"
    status, headers, answer = server.request("POST", MIGRATE, body, h.migrate_headers())
    assert_raw_outcome(status, {k.lower(): v for k, v in headers.items()}, answer, "INVALID_RESOURCE")
