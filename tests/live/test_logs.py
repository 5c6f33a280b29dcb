"""What the server prints: one start-up line and one access line per request, as text or JSON,
and no access lines with MOCKPROVIDER_ACCESS_LOG=false (issue #15)."""
import json
import re
import time

import pytest

from tests import helpers as h

pytestmark = pytest.mark.live

MIGRATE = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"
ACCESS_FIELDS = {"time", "method", "path", "status", "ms", "trace_id", "interaction", "spine_code"}


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
                        rf"200 [\d.]+ms trace={trace} interaction=migrate_structured spine=-", ok), ok
    assert refused.endswith(" trace=- interaction=migrate_structured spine=BAD_REQUEST"), refused
    assert " 400 " in refused


def test_json_lines(start_server):
    server = start_server(workers=1, env={"MOCKPROVIDER_LOG_FORMAT": "json"})
    trace = traffic(server)
    lines = [json.loads(line) for line in printed(server, 3, r'^\{"')]
    start = lines[0]
    assert start["event"] == "start" and start["url"] == f"http://127.0.0.1:{server.port}"
    assert (start["practice"], start["validation"], start["personas_source"]) == ("B82617", "strict", "built-in")
    assert start["personas"] > 0 and start["state_store"].startswith("sqlite:")
    access = [line for line in lines[1:] if line.get("method") == "POST"]
    assert all(set(line) == ACCESS_FIELDS for line in lines[1:])
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
