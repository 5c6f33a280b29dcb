"""Start-up and control-surface hardening with a real ``mockprovider serve`` (issue #28)."""
import json

import pytest

from mockprovider.config import Settings
from mockprovider.server import gunicorn_options
from tests import helpers as h

pytestmark = pytest.mark.live

MIGRATE = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"
DOCS = "/B82617/STU3/1/gpconnect/documents/fhir"


def attachment_urls(server, **headers):
    answer = server.request("POST", MIGRATE, dict(h.migrate_headers(), **headers),
                            json.dumps(h.migrate_body()).encode())
    assert answer.status == 200, answer.body[:300]
    bundle = json.loads(answer.body)
    return [c["attachment"]["url"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DocumentReference"
            for c in e["resource"]["content"] if "url" in c["attachment"]]


# --- item 7: gunicorn trusts forwarded headers only from MOCKPROVIDER_TRUSTED_PROXIES ---------------------
def test_forwarded_proto_from_loopback_is_ignored_by_default(start_server):
    server = start_server(workers=1)
    urls = attachment_urls(server, **{"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on"})
    assert urls and all(u.startswith(f"http://127.0.0.1:{server.port}{DOCS}/Binary/") for u in urls), urls


def test_forwarded_proto_from_a_trusted_proxy_is_honoured(start_server):
    server = start_server(workers=1, env={"MOCKPROVIDER_TRUSTED_PROXIES": "127.0.0.0/8"})
    urls = attachment_urls(server, **{"X-Forwarded-Proto": "https"})
    assert urls and all(u.startswith(f"https://127.0.0.1:{server.port}{DOCS}/Binary/") for u in urls), urls


@pytest.mark.parametrize("trusted, allowed", [("", []), ("*", ["*"]), ("10.1.2.3/8, ::1", ["10.0.0.0/8", "::1/128"])])
def test_gunicorn_forwarded_allow_ips_follows_trusted_proxies(trusted, allowed):
    from gunicorn.config import Config
    config = Config()
    config.set("forwarded_allow_ips", gunicorn_options(Settings.from_env({}, trusted_proxies=trusted))["forwarded_allow_ips"])
    assert config.forwarded_allow_ips == allowed


# --- item 5: a misspelt setting is named on stderr; the start-up line says whether control is open ------
def test_a_misspelt_variable_is_warned_about_with_the_nearest_name(start_server):
    server = start_server(workers=1, env={"MOCKPROVIDER_CONTROLTOKEN": "x", "MOCKPROVIDER_URL": "http://x",
                                          "MOCKPROVIDER_JOURNAL_SIZ": "9"})
    log = server.stderr()
    warnings = [line for line in log.splitlines() if "MOCKPROVIDER_" in line and "not a setting" in line]
    assert len(warnings) == 2, log
    assert "MOCKPROVIDER_CONTROLTOKEN" in warnings[0] and "MOCKPROVIDER_CONTROL_TOKEN" in warnings[0]
    assert "MOCKPROVIDER_JOURNAL_SIZ " in warnings[1] + " " and "MOCKPROVIDER_JOURNAL_SIZE" in warnings[1]
    start = next(line for line in log.splitlines() if line.startswith("mockprovider serving"))
    assert "control API open (no token)" in start, start


def test_the_start_up_line_says_the_control_api_is_protected(start_server):
    server = start_server(workers=1, env={"MOCKPROVIDER_CONTROL_TOKEN": "secret", "MOCKPROVIDER_LOG_FORMAT": "json"})
    start = next(json.loads(line) for line in server.stderr().splitlines() if line.startswith('{"event":"start"'))
    assert start["control_api"] == "protected"
    assert "secret" not in server.stderr()


# --- item 9: the tests remove the state folders they make, even of a server that had to be killed --------
def test_a_killed_server_leaves_no_state_folder_behind(start_server):
    import os
    import signal
    server = start_server(workers=1)
    folder = server.state_dir
    assert folder and os.path.isdir(folder) and os.listdir(folder)
    os.killpg(server.process.pid, signal.SIGKILL)          # no chance to clean up after itself
    server.process.wait(5)
    server.stop()
    assert not os.path.exists(folder)


def test_the_pytest_plugin_server_removes_its_state_folder():
    import os
    import signal
    from mockprovider.pytest_plugin import GPConnectProvider
    provider = GPConnectProvider(workers=1, env={"MOCKPROVIDER_STATE_DIR": ""})
    folder = provider._state_dir
    assert folder and os.path.isdir(folder)
    os.killpg(provider.process.pid, signal.SIGKILL)
    provider.process.wait(5)
    provider.stop()
    assert not os.path.exists(folder)
