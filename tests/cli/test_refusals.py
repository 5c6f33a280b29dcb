"""A bad start-up option is one line and a non-zero exit, never a traceback or a hang (issue #15)."""
import os
import socket
import subprocess
import sys

import pytest

from tests.live.conftest import free_port

ENV = {k: v for k, v in os.environ.items() if not k.startswith("MOCKPROVIDER_")}


def mockprovider(*args, env=None, timeout=30):
    return subprocess.run([sys.executable, "-c", "from mockprovider.cli import cli; cli()", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env={**ENV, **(env or {})})


def assert_one_line_refusal(result, *words):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize("args, env, words", [
    (["--workers", "0"], {}, ["workers", "at least 1"]),
    (["--workers", "-3"], {}, ["workers"]),
    ([], {"MOCKPROVIDER_WORKERS": "0"}, ["workers"]),
    (["--port", "0"], {}, ["port", "65535"]),
    (["--port", "65536"], {}, ["port"]),
    (["--port", "eighty"], {}, ["--port"]),
    (["--certfile", "/nonexistent/cert.pem"], {}, ["--certfile", "/nonexistent/cert.pem"]),
    (["--personas", "/nonexistent/cast"], {}, ["/nonexistent/cast"]),
    ([], {"MOCKPROVIDER_LOG_FORMAT": "xml"}, ["log-format", "xml"]),
])
def test_serve_refusals(args, env, words):
    assert_one_line_refusal(mockprovider("serve", "--port", free_port(), *args, env=env), *words)


def test_missing_key_and_unusable_tls_files(tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("not a certificate\n")
    assert_one_line_refusal(mockprovider("serve", "--port", free_port(), "--certfile", cert,
                                         "--keyfile", tmp_path / "missing.key"), "--keyfile")
    assert_one_line_refusal(mockprovider("serve", "--port", free_port(), "--certfile", cert), "cannot be used")
    assert_one_line_refusal(mockprovider("serve", "--port", free_port(), "--keyfile", cert), "--certfile")


def test_a_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = mockprovider("serve", "--port", port, timeout=15)
    assert_one_line_refusal(result, str(port), "in use")


def test_no_personas_unless_allow_empty(tmp_path):
    empty = tmp_path / "cast"
    empty.mkdir()
    assert_one_line_refusal(mockprovider("serve", "--port", free_port(), "--personas", empty),
                            "no personas", "--allow-empty")


def test_allow_empty_starts(tmp_path):
    from tests.live.conftest import LiveServer
    empty = tmp_path / "cast"
    empty.mkdir()
    server = LiveServer(workers=1, args=["--personas", str(empty), "--allow-empty"])
    try:
        assert server.control.health()["personas"] == 0
        assert server.control.personas() == []
    finally:
        server.stop()


def test_generate_count_zero(tmp_path):
    assert_one_line_refusal(mockprovider("personas", "generate", "--count", 0, "--out", tmp_path / "g"), "--count")
    assert not (tmp_path / "g").exists()


def test_make_run_honours_host_and_port():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    def dry(*args, env=None):
        result = subprocess.run(["make", "-s", "-n", "-C", root, "run", *args], capture_output=True, text=True,
                                env={**ENV, **(env or {})}, timeout=30)
        line = [l for l in result.stdout.splitlines() if "mockprovider serve" in l]
        assert line, result.stdout + result.stderr
        return line[0]

    assert "--host 127.0.0.1 --port 8080" in dry()
    assert "--host 0.0.0.0 --port 9123" in dry(env={"MOCKPROVIDER_HOST": "0.0.0.0", "MOCKPROVIDER_PORT": "9123"})
    assert "--port 9321" in dry("PORT=9321", env={"MOCKPROVIDER_PORT": "9123"})


def test_a_bad_practices_registry_is_one_line_naming_file_and_key(tmp_path):
    """issue #26: the registry is configuration; a mistake in it stops the start with one line."""
    bad = tmp_path / "practices.toml"
    bad.write_text('[[practice]]\nods = "B82617"\nname = "x"\nasid = "twelve"\n')
    assert_one_line_refusal(mockprovider("serve", "--port", free_port(), "--practices", bad),
                            str(bad), "practice[0].asid")
    assert_one_line_refusal(mockprovider("serve", "--port", free_port(), env={"MOCKPROVIDER_PRACTICES": str(bad)}),
                            "practice[0].asid")
    assert_one_line_refusal(mockprovider("serve", "--port", free_port(), "--practices", tmp_path / "missing.toml"),
                            "missing.toml", "not found")
    assert_one_line_refusal(mockprovider("serve", "--port", free_port(), env={"MOCKPROVIDER_ODS_CODE": "A20047"}),
                            "practice[1].ods", "MOCKPROVIDER_ODS_CODE")
# --- issue #28 item 6: a bad --state-url is one line too (never a traceback, never ignored) -------------
@pytest.mark.parametrize("url, words", [
    ("redis://127.0.0.1:notaport/0", ["notaport", "port"]),
    ("redis://127.0.0.1:99999/0", ["99999", "port"]),
    ("redis://[::1", ["redis://[::1"]),
    ("redis://127.0.0.1:6379/abc", ["abc", "database"]),
    ("redis://127.0.0.1:6379/0/1", ["database"]),
    ("unix:///tmp/redis.sock?db=x", ["database"]),
])
def test_a_bad_state_url_is_one_line(url, words):
    assert_one_line_refusal(mockprovider("serve", "--port", free_port(), "--state-url", url, timeout=20), *words)


def test_a_bad_state_url_in_the_environment_is_one_line():
    assert_one_line_refusal(mockprovider("serve", "--port", free_port(),
                                         env={"MOCKPROVIDER_STATE_URL": "redis://h:1:2/0"}, timeout=20),
                            "MOCKPROVIDER_STATE_URL")
