"""What the server prints: one start-up line and one access line per request, as text or JSON,
and no access lines with MOCKPROVIDER_ACCESS_LOG=false (issue #15)."""
import json
import re
import time

import pytest

from tests import helpers as h

pytestmark = pytest.mark.live

MIGRATE = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"
ACCESS_FIELDS = {"time", "method", "path", "status", "ms", "trace_id", "interaction", "spine_code",
                 "total_ms", "bytes_sent", "complete"}


def traffic(server):
    """A migrate that succeeds and one refused at the gate (no Ssp-TraceID); returns the first's trace id."""
    headers = h.migrate_headers()
    ok = server.request("POST", MIGRATE, headers, json.dumps(h.migrate_body()).encode())
    assert ok.status == 200
    refused = dict(headers)
    del refused["Ssp-TraceID"]
    assert server.request("POST", MIGRATE, refused, json.dumps(h.migrate_body()).encode()).status == 400
    return headers["Ssp-TraceID"]


def printed(server, count, pattern):
    """The server's output lines matching pattern, once there are at least count of them."""
    deadline = time.monotonic() + 5
    while True:
        lines = [line for line in server.stderr().splitlines() if re.search(pattern, line)]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_text_lines(start_server):
    server = start_server(workers=2)
    start = printed(server, 1, r"^mockprovider serving")[0]
    assert start.startswith(f"mockprovider serving http://127.0.0.1:{server.port} practice B82617 "
                            "(ASID 918999198738), ")
    assert re.search(r", \d+ personas \(built-in: \S+personas\), validation strict, state sqlite:\S+, 2 workers x \d+ threads, "
                     r"control API open \(no token\)$",
                     start), start
    trace = traffic(server)
    ok, refused = printed(server, 2, r"^\d{4}-\d\d-\d\dT\S+Z POST ")[-2:]
    assert re.fullmatch(r"\S+Z POST /B82617/STU3/1/gpconnect/structured/fhir/Patient/\$gpc\.migratestructuredrecord "
                        rf"200 [\d.]+ms trace={trace} interaction=migrate_structured spine=- "
                        r"total=[\d.]+ms sent=\d+ complete=yes", ok), ok
    assert re.search(r" trace=- interaction=migrate_structured spine=BAD_REQUEST total=[\d.]+ms sent=\d+ "
                     r"complete=yes$", refused), refused
    assert " 400 " in refused


def test_json_lines(start_server):
    server = start_server(workers=1, env={"MOCKPROVIDER_LOG_FORMAT": "json"})
    trace = traffic(server)
    # the two access lines (written when each answer is over), then every JSON line printed by then
    printed(server, 2, r'^\{.*"method": ?"POST"')
    lines = [json.loads(line) for line in printed(server, 1, r'^\{"')]
    start = lines[0]
    assert start["event"] == "start" and start["url"] == f"http://127.0.0.1:{server.port}"
    assert (start["practice"], start["validation"], start["personas_source"]) == ("B82617", "strict", "built-in")
    assert start["personas"] > 0 and start["state_store"].startswith("sqlite:")
    access = [line for line in lines[1:] if line.get("method") == "POST"]
    assert all(set(line) == ACCESS_FIELDS for line in lines[1:] if "method" in line)
    assert (access[-2]["status"], access[-2]["trace_id"], access[-2]["interaction"], access[-2]["spine_code"]) == \
        (200, trace, "migrate_structured", None)
    assert (access[-1]["status"], access[-1]["spine_code"]) == (400, "BAD_REQUEST")
    assert isinstance(access[-1]["ms"], float)


def test_access_log_off(start_server):
    server = start_server(workers=1, env={"MOCKPROVIDER_ACCESS_LOG": "false"})
    traffic(server)
    time.sleep(0.3)
    assert len(printed(server, 1, r"^mockprovider serving")) == 1
    assert printed(server, 1, r" POST /") == []


def test_a_path_cannot_break_its_line(start_server):
    server = start_server(workers=1)
    server.get(h.STRUCTURED + "/metadata%0Ainjected%20line")
    line = printed(server, 1, r"metadata\\x0ainjected")[0]
    assert "\n" not in line and " 501 " in line
    assert printed(server, 1, r"^injected") == []


# --- issue #28 item 8: total time, bytes sent and whether the body completed ----------------------------
import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402

from mockprovider.personas import ids  # noqa: E402

BIG_URL = f"{h.DOCUMENTS}/Binary/{ids.document_id('9690937308', 'big-scanned-letter')}"   # 6 MiB, ~8 MiB of JSON
META = h.STRUCTURED + "/metadata"
DONE_FIELDS = {"total_ms", "bytes_sent", "complete"}


def json_lines(server, pattern, count=1):
    return [json.loads(line) for line in printed(server, count, pattern)]


def journal_row(server, trace):
    deadline = time.monotonic() + 5
    while True:
        rows = server.control.call("GET", f"/requests?trace_id={trace}")
        if rows and rows[0].get("complete") is not None or time.monotonic() > deadline:
            return rows[0]
        time.sleep(0.05)


def slow_get(port, path, headers, read_bytes=None, pause=0.05, chunk=256 * 1024):
    """GET on a raw socket with a small receive buffer, reading ``chunk`` bytes every ``pause`` s;
    returns (socket, bytes read); stops after ``read_bytes`` (None: to the end)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.connect(("127.0.0.1", port))
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close",
             *(f"{k}: {v}" for k, v in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    got = b""
    while read_bytes is None or len(got) < read_bytes:
        data = sock.recv(chunk)
        if not data:
            break
        got += data
        time.sleep(pause)
    return sock, got


def test_a_slow_download_logs_total_time_bytes_and_completion(start_server):
    server = start_server(workers=1, env={"MOCKPROVIDER_LOG_FORMAT": "json"})
    headers = h.headers(h.MIGRATE_DOCUMENT, h.claims(reason="migration", scope="patient/*.read conf/R"))
    started = time.monotonic()
    sock, got = slow_get(server.port, BIG_URL, headers)
    took = (time.monotonic() - started) * 1000
    sock.close()
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and len(body) > 8_000_000
    line = json_lines(server, r'"method":"GET".*Binary')[-1]
    assert set(line) >= {"ms"} | DONE_FIELDS
    assert line["complete"] is True and line["bytes_sent"] == len(body)
    assert line["total_ms"] >= 0.5 * took and line["total_ms"] > 10 * line["ms"], line
    row = journal_row(server, headers["Ssp-TraceID"])
    assert (row["complete"], row["bytes_sent"]) == (True, len(body)) and row["total_ms"] >= line["ms"]


def test_a_dripped_answer_logs_its_whole_duration(start_server):
    server = start_server(workers=1)
    server.control.add_fault({"kind": "drip", "duration_ms": 1500, "match": {"interaction": "metadata_structured"}})
    headers = h.metadata_headers()
    answer = server.get(META, headers)
    assert answer.status == 200
    line = printed(server, 1, r" GET /B82617/STU3/1/gpconnect/structured/fhir/metadata 200 ")[-1]
    total = float(re.search(r" total=([\d.]+)ms ", line).group(1))
    assert total >= 1400, line
    assert f" sent={len(answer.body)} complete=yes" in line, line
    row = journal_row(server, headers["Ssp-TraceID"])
    assert row["total_ms"] >= 1400 and row["complete"] is True and row["bytes_sent"] == len(answer.body)


def test_a_cut_answer_is_logged_as_incomplete(start_server):
    server = start_server(workers=1, env={"MOCKPROVIDER_LOG_FORMAT": "json"})
    server.control.add_fault({"kind": "truncated", "match": {"interaction": "metadata_structured"}})
    headers = h.metadata_headers()
    answer = server.get(META, headers)
    assert answer.error is not None
    line = json_lines(server, r'"path":"/B82617/STU3/1/gpconnect/structured/fhir/metadata"')[-1]
    assert line["status"] == 200 and line["complete"] is False
    assert 0 < line["bytes_sent"] == len(answer.body) < int(answer.headers["Content-Length"])
    row = journal_row(server, headers["Ssp-TraceID"])
    assert (row["complete"], row["bytes_sent"]) == (False, line["bytes_sent"])


def test_a_download_cut_by_shutdown_is_logged_as_incomplete(start_server):
    server = start_server(workers=1, env={"MOCKPROVIDER_LOG_FORMAT": "json"})
    headers = h.headers(h.MIGRATE_DOCUMENT, h.claims(reason="migration", scope="patient/*.read conf/R"))
    sock, got = slow_get(server.port, BIG_URL, headers, read_bytes=512 * 1024)
    try:
        os.killpg(server.process.pid, signal.SIGINT)      # gunicorn's quick shutdown, mid-download
        time.sleep(0.5)
    finally:
        sock.close()
    server.process.wait(15)
    lines = [json.loads(line) for line in server.stderr().splitlines()
             if line.startswith("{") and "Binary" in line]
    assert len(lines) == 1, server.stderr()[-2000:]
    assert lines[0]["status"] == 200 and lines[0]["complete"] is False
    assert len(got) - len(got.partition(b"\r\n\r\n")[0]) <= lines[0]["bytes_sent"] + 4 < 8_000_000


# --- issue #28 item 9: --dev says what it runs and logs once; JSON logs are JSON on stderr too -----------
def test_dev_server_says_so_and_logs_each_request_once(start_server):
    server = start_server(workers=1, args=["--dev"])
    start = printed(server, 1, r"^mockprovider serving")[0]
    assert "Flask development server" in start and "workers" not in start and "threads" not in start, start
    assert server.get(META, h.metadata_headers()).status == 200
    time.sleep(0.3)
    mentions = [line for line in server.stderr().splitlines() if "/gpconnect/structured/fhir/metadata" in line]
    assert len(mentions) == 1, mentions


def test_json_logs_put_json_on_stderr_too(start_server):
    server = start_server(workers=1, env={"MOCKPROVIDER_LOG_FORMAT": "json", "MOCKPROVIDER_CONTROLTOKN": "x"})
    with socket.create_connection(("127.0.0.1", server.port)) as sock:     # gunicorn's parser refuses it
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\nBad Header Name: x\r\n\r\n")
        sock.recv(65536)
    time.sleep(0.5)
    lines = [line for line in server.stderr().splitlines() if line.strip()]
    warnings = [json.loads(line) for line in lines if "MOCKPROVIDER_CONTROLTOKN" in line or "Invalid request" in line]
    assert len(warnings) == 2, lines
    assert all(w["level"] == "WARNING" and w["message"] and w["time"] for w in warnings), warnings
    for line in lines:
        json.loads(line)             # every line, stdout and stderr, is one JSON object
