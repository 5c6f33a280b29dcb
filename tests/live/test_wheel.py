"""A built wheel installs anywhere (issue #15): build it, install it into a fresh virtualenv
outside the checkout (pip's cache keeps this to ~20 s), run ``mockprovider serve`` from another
directory, and get the built-in cast's Bundles and documents from it."""
import base64
import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests import helpers as h
from tests.live.conftest import free_port

pytestmark = [pytest.mark.live, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
MIGRATE = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"


def run(*command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin folder, a working folder outside the checkout) with the wheel installed."""
    root = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOCKPROVIDER_", "PYTHON", "VIRTUAL_ENV"))}
    built = run(sys.executable, "-m", "pip", "wheel", "--verbose", "--no-deps", "-w", str(root / "dist"), str(REPO),
                env=env)
    # setuptools is quiet about the package: the console's static files are declared package data
    # (about 40 lines of "Package would be ignored" per build and install before, issue #28)
    assert "Warning" not in built.stdout + built.stderr and "would be ignored" not in built.stdout + built.stderr, \
        [line for line in (built.stdout + built.stderr).splitlines() if "arning" in line]
    wheels = list((root / "dist").glob("mockprovider-*.whl"))
    assert len(wheels) == 1
    run(sys.executable, "-m", "venv", str(root / "venv"), env=env)
    bin_dir = root / "venv" / "bin"
    run(str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheels[0]), env=env)
    work = root / "elsewhere"
    work.mkdir()
    return bin_dir, work, env


def test_the_wheel_carries_the_built_in_cast(installed):
    bin_dir, work, env = installed
    found = run(str(bin_dir / "python"), "-c", "import mockprovider.config as c; print(c.BUILT_IN_PERSONAS)",
                cwd=work, env=env).stdout.strip()
    assert not found.startswith(str(REPO)), found               # not the checkout's folder
    shipped = sorted(p.relative_to(REPO / "personas").as_posix() for p in (REPO / "personas").rglob("*") if p.is_file())
    packaged = sorted(p.relative_to(found).as_posix() for p in Path(found).rglob("*") if p.is_file())
    assert packaged == shipped
    listed = run(str(bin_dir / "mockprovider"), "personas", "list", "--json", cwd=work, env=env).stdout
    assert len(json.loads(listed)) == len([p for p in (REPO / "personas").glob("*.json") if p.name != "schema.json"])


def test_serve_from_anywhere_answers_a_bundle_and_a_document(installed):
    bin_dir, work, env = installed
    port = free_port()
    server = subprocess.Popen([str(bin_dir / "mockprovider"), "serve", "--port", str(port), "--workers", "1"],
                              cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(base + "/_control/health", timeout=2)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        sent = h.migrate_headers()
        request = urllib.request.Request(base + MIGRATE, data=json.dumps(h.migrate_body("9690937286")).encode(),
                                         headers=sent, method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            bundle = json.loads(answer.read())
        assert bundle["resourceType"] == "Bundle" and bundle["id"] == sent["Ssp-TraceID"]
        patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
        assert patient["identifier"][0]["value"] == "9690937286"

        # a document shipped as a file in personas/files/ comes back byte for byte
        detail = json.loads(urllib.request.urlopen(base + "/_control/personas/9690937286", timeout=10).read())
        shipped = [d for d in detail["documents"] if d["retrievable"] and d["size"] < 1024 * 1024]
        assert shipped, detail["documents"]
        document = shipped[0]
        headers = h.headers(h.MIGRATE_DOCUMENT, h.claims(reason="migration", scope="patient/*.read conf/R"))
        with urllib.request.urlopen(urllib.request.Request(document["url"], headers=headers), timeout=10) as answer:
            binary = json.loads(answer.read())
        data = base64.b64decode(binary["content"] if "content" in binary else binary["data"])
        assert len(data) == document["size"]
        files = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (REPO / "personas" / "files").iterdir()}
        assert hashlib.sha256(data).hexdigest() in files

        # the console's static files are package data, and the cast's rules (cast.toml) came along
        assert b"mockprovider console" in urllib.request.urlopen(base + "/_console", timeout=10).read()
        for script in ("console-kit.js", "console.js", "lookups.js", "retrieve-query.js"):
            assert urllib.request.urlopen(base + "/_console/" + script, timeout=10).status == 200
        assert "200" in detail["rules"] and detail["exercises"]
        # the practices registry came along too (issue #26): the wheel's copy, every practice
        registry = json.loads(urllib.request.urlopen(base + "/_control/practices", timeout=10).read())
        assert registry["file"].endswith("builtin_personas/practices.toml") and not registry["file"].startswith(str(REPO))
        assert {"B82617", "Y90001"} <= {p["ods"] for p in registry["practices"]}
    finally:
        os.killpg(server.pid, 2)
        output = server.communicate(timeout=15)[0].decode(errors="replace")
    assert output.splitlines()[0].startswith(f"mockprovider serving http://127.0.0.1:{port} practice B82617")
    assert "built-in" in output.splitlines()[0]
