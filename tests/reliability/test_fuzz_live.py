"""Transport-level fuzzing against a real gunicorn server: raw bytes on the wire.

Invalid UTF-8 and null bytes in the path and headers, random methods and versions, oversized and
malformed headers, truncated bodies. Every answer is either a clean close or an HTTP answer that
keeps the FHIR property (tests/reliability/fuzzing.py); no worker dies; the server keeps answering.
"""
import json
import socket
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import helpers as h
from tests.reliability import fuzzing as fz
from tests.reliability.liveserver import LiveServer

pytestmark = pytest.mark.live

META = h.STRUCTURED + "/metadata"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("fuzz-live"), workers=2,
                    env={"MOCKPROVIDER_CLIENT_TIMEOUT_SECONDS": "2"}) as live:
        pids = live.worker_pids()
        yield live
        assert live.worker_pids() == pids, "a worker died or was restarted during the fuzz: " + live.log()


def exchange(server, data: bytes) -> bytes:
    """Send the bytes, half-close (so a short body ends now, not at the timeout), read to EOF."""
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the server already answered and closed: read what it said
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
        return b"".join(chunks)


def check_raw(method: bytes, path: bytes, answer: bytes):
    if not answer:
        return  # a clean close is a valid answer to an unparseable request
    head, sep, body = answer.partition(b"\r\n\r\n")
    assert sep, answer[:300]
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1."), lines[0]
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().title()] = value.strip()
    if "Content-Length" in headers:
        body = body[:int(headers["Content-Length"])]
    if path.startswith(b"/_control"):
        # the control API's own answers are JSON and never 5xx; the transport-level answers
        # written before any route is known (malformed request, unsupported Transfer-Encoding 501)
        # are the same FHIR outcomes as on any path
        if "json+fhir" in headers.get("Content-Type", "") or "fhir+json" in headers.get("Content-Type", ""):
            fz.check_fhir_answer(method.decode("latin-1"), status, headers, body)
        else:
            assert status < 500 and headers.get("Content-Type") == "application/json", answer[:300]
        return
    fz.check_fhir_answer(method.decode("latin-1"), status, headers, body)


wire_bytes = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"\x00", b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"%00", b"%ff", b"%c3%28", b" ",
                     b"\t", b"\x7f", b"\xe2\x80\xae"]),
)
paths = st.one_of(
    st.sampled_from([META.encode(), b"/", b"/_control/health", (h.DOCUMENTS + "/Binary/x").encode(),
                     (h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord").encode()]),
    st.tuples(st.sampled_from([META.encode(), b"/", h.DOCUMENTS.encode()]), wire_bytes).map(b"".join),
    st.binary(max_size=60).map(lambda b: b"/" + b),
    # percent-encoded bytes pass gunicorn's request-line check and reach the app decoded
    st.tuples(st.sampled_from([META.encode(), (h.DOCUMENTS + "/Binary/").encode(), b"/"]),
              st.binary(max_size=30).map(lambda b: quote_from_bytes(b, safe="/").encode())).map(b"".join),
    st.tuples(st.sampled_from([META.encode(), (h.DOCUMENTS + "/Binary/").encode(), b"/"]),
              st.binary(max_size=30).map(lambda b: quote_from_bytes(b, safe="/").encode())).map(b"".join),
)
header_names = st.one_of(st.sampled_from([b"Ssp-TraceID", b"Accept", b"Content-Type", b"Authorization",
                                          b"Transfer-Encoding", b"Content-Length", b"Host", b"X-Forwarded-Proto"]),
                         st.binary(min_size=1, max_size=20))
header_values = st.one_of(wire_bytes, st.sampled_from([b"chunked", b"-1", b"99999999999999999999", b"1",
                                                       b"a" * 20000, b"application/fhir+json"]))


@fz.fuzz_settings(150)
@given(method=st.one_of(st.sampled_from([b"GET", b"GET", b"POST", b"HEAD", b"PUT", b"TRACE", b"PROPFIND"]),
                        st.sampled_from([b"GET"]), st.binary(min_size=1, max_size=10)),
       path=paths,
       version=st.sampled_from([b"HTTP/1.1"] * 6 + [b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1\x00", b""]),
       use_gate_headers=st.booleans(),
       extra=st.lists(st.tuples(header_names, header_values), max_size=3),
       body=st.binary(max_size=200))
def test_raw_requests_keep_the_property(server, method, path, version, use_gate_headers, extra, body):
    head = [method + b" " + path + (b" " + version if version else b""), b"Host: 127.0.0.1"]
    if use_gate_headers:
        head += [f"{k}: {v}".encode() for k, v in h.metadata_headers().items()]
    head += [k + b": " + v for k, v in extra]
    answer = exchange(server, b"\r\n".join(head) + b"\r\n\r\n" + body)
    check_raw(method, path, answer)


def test_still_answering_after_the_raw_fuzz(server):
    status, _, body = server.request("GET", META, headers=h.metadata_headers())
    assert status == 200 and json.loads(body)["resourceType"] == "CapabilityStatement"
