"""HTTP as real clients speak it, on a real socket (``mockprovider serve``, gunicorn gthread):
keep-alive, pipelining, slow downloads that must not hold anyone else up, and faults on a
kept-alive connection."""
import http.client
import json
import socket
import threading
import time

import pytest

from mockprovider.personas import ids
from tests import helpers as h

pytestmark = pytest.mark.live

META = h.STRUCTURED + "/metadata"
BIG_URL = f"{h.DOCUMENTS}/Binary/{ids.document_id('9690937308', 'big-scanned-letter')}"   # 6 MiB, streamed


def raw_request(method, path, headers, body=b""):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def read_responses(sock, count, timeout=20):
    """Parse ``count`` HTTP/1.1 responses (Content-Length framed) off one socket."""
    sock.settimeout(timeout)
    buffer, answers = b"", []
    while len(answers) < count:
        while b"\r\n\r\n" not in buffer:
            data = sock.recv(65536)
            assert data, f"connection closed after {len(answers)} answers"
            buffer += data
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers["content-length"])
        while len(buffer) < length:
            data = sock.recv(65536)
            assert data, "connection closed mid-body"
            buffer += data
        answers.append((int(lines[0].split()[1]), headers, buffer[:length]))
        buffer = buffer[length:]
    return answers


def test_keep_alive_serves_several_requests_on_one_connection(live_server):
    connection = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=20)
    try:
        socks = set()
        for _ in range(3):
            connection.request("GET", META, headers=h.metadata_headers())
            response = connection.getresponse()
            body = response.read()
            assert response.status == 200 and json.loads(body)["resourceType"] == "CapabilityStatement"
            assert (response.getheader("Connection") or "").lower() != "close"
            socks.add(id(connection.sock))
        assert len(socks) == 1 and connection.sock is not None     # never reconnected
    finally:
        connection.close()


def test_three_pipelined_requests_get_three_answers_in_order(live_server):
    first, second, third = (h.metadata_headers() for _ in range(3))
    migrate = h.migrate_headers()
    payload = (raw_request("GET", META, first)
               + raw_request("POST", h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord", migrate,
                             json.dumps(h.migrate_body()).encode())
               + raw_request("GET", META, third))
    with socket.create_connection(("127.0.0.1", live_server.port)) as sock:
        sock.sendall(payload)
        answers = read_responses(sock, 3)
    assert [a[0] for a in answers] == [200, 200, 200]
    assert json.loads(answers[0][2])["resourceType"] == "CapabilityStatement"
    bundle = json.loads(answers[1][2])
    assert bundle["resourceType"] == "Bundle" and bundle["id"] == migrate["Ssp-TraceID"]
    assert json.loads(answers[2][2])["resourceType"] == "CapabilityStatement"
    del second


def test_slow_downloads_do_not_hold_up_anyone_else(start_server):
    """One worker; eight clients start a 6 MiB document and stop reading (each holds a request
    thread in a blocked write). Health and a migrate structured are still answered, and the
    downloads complete once their clients read again."""
    server = start_server(workers=1)
    stalled = []
    for _ in range(8):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)     # 8 MiB of base64 cannot fit
        sock.sendall(raw_request("GET", BIG_URL, h.headers(h.MIGRATE_DOCUMENT, h.claims())))
        stalled.append(sock)
    time.sleep(0.5)        # every download is now blocked on a full socket buffer
    assert server.get("/_control/health", timeout=10).status == 200
    migrate = server.request("POST", h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord",
                             h.migrate_headers(), json.dumps(h.migrate_body()).encode(), timeout=10)
    assert migrate.status == 200 and migrate.error is None
    results = []

    def finish(sock):
        status, headers, body = read_responses(sock, 1, timeout=60)[0]
        results.append(status == 200 and len(body) == int(headers["content-length"]))
        sock.close()
    readers = [threading.Thread(target=finish, args=(sock,)) for sock in stalled]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(90)
    assert results == [True] * len(stalled)


@pytest.mark.parametrize("kind", ["reset", "empty", "truncated"])
def test_a_socket_fault_on_a_kept_alive_connection_ends_that_connection_only(live_server, kind):
    """The first request on a connection is answered; the second gets the fault; the server keeps
    serving new connections."""
    live_server.control.add_fault({"kind": kind, "times": 1, "match": {"interaction": "metadata_structured"}})
    connection = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=20)
    try:
        connection.request("GET", META, headers=h.metadata_headers())
        # the rule above took the first request: show that, then a clean one on a new connection
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            response = connection.getresponse()
            response.read()
            if kind == "truncated":
                raise AssertionError("truncated body read in full")
    finally:
        connection.close()
    again = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=20)
    try:
        for _ in range(2):
            again.request("GET", META, headers=h.metadata_headers())
            response = again.getresponse()
            assert response.status == 200 and response.read()
    finally:
        again.close()


def test_gzip_over_a_real_socket_chunked_binary_then_a_bundle_on_the_same_connection(live_server):
    import gzip
    connection = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=30)
    try:
        headers = h.headers(h.MIGRATE_DOCUMENT, h.claims())
        connection.request("GET", BIG_URL, headers=headers)
        plain = connection.getresponse().read()
        connection.request("GET", BIG_URL, headers=dict(headers, **{"Accept-Encoding": "gzip"}))
        response = connection.getresponse()
        assert response.getheader("Content-Encoding") == "gzip"
        assert response.getheader("Transfer-Encoding") == "chunked" and response.getheader("Content-Length") is None
        assert gzip.decompress(response.read()) == plain
        migrate = dict(h.migrate_headers(), **{"Accept-Encoding": "gzip"})
        connection.request("POST", h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord",
                           body=json.dumps(h.migrate_body()), headers=migrate)
        response = connection.getresponse()
        body = response.read()
        assert int(response.getheader("Content-Length")) == len(body)
        assert json.loads(gzip.decompress(body))["id"] == migrate["Ssp-TraceID"]
    finally:
        connection.close()
